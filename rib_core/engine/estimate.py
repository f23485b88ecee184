"""`rib bench --dry-run`: the plan, what is already done, what remains, what is missing, and what it will cost."""

from __future__ import annotations

from rich.table import Table

# Documented fallback throughputs (images/s) for a ViT-B/16 at 224 px, used when no calibration is possible.
# GPU: bf16 inference on a current datacenter GPU; CPU: fp32 on a few cores. Training ~ 3x an inference pass.
FALLBACK_IMAGES_PER_S = {"cuda": 3000.0, "mps": 150.0, "cpu": 15.0}
TRAIN_COST_FACTOR = 3.0


def _device_type(requested: str) -> str:
    if requested not in (None, "auto"):
        return requested.split(":")[0]
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    except ImportError:
        pass
    return "cpu"


def summarize(plan, store) -> dict:
    done = [c for c in plan if store.is_done(c.key)]
    todo = [c for c in plan if c not in done]
    return {
        "cells": len(plan), "done": len(done), "pending": len(todo),
        "eval_cells": sum(c.kind == "eval" for c in plan), "finetune_cells": sum(c.kind == "finetune" for c in plan),
        "image_forwards": sum(c.work for c in todo if c.kind == "eval"),
        "train_steps": sum(c.work for c in todo if c.kind == "finetune"),
    }


def print_dry_run(prepared, plan, plan_to_run, store, console, calibrate: bool = True, device: str = "auto") -> dict:
    s = summarize(plan_to_run, store)
    settings = prepared.settings
    suite = prepared.suite
    table = Table(title=f"suite '{suite.name}' ({suite.source})", title_justify="left", show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right")
    table.add_row("models × strategies × datasets",
                  f"{len(prepared.models)} × {len(prepared.strategies)} × {len(prepared.datasets)}"
                  + (f" (+ reference {prepared.reference.label})" if prepared.reference else ""))
    table.add_row("cells (eval + fine-tune)", f"{s['cells']} ({s['eval_cells']} + {s['finetune_cells']})")
    table.add_row("already done", str(s["done"]))
    table.add_row("to run", str(s["pending"]))
    table.add_row("image forwards to run", f"{s['image_forwards']:,}")
    table.add_row("training steps to run", f"{s['train_steps']:,} (batch {settings.batch_size})")
    sizes = {}
    for ds in prepared.datasets + ([prepared.reference] if prepared.reference else []):
        sizes[ds.label] = len(ds.samples)
    images = sum(sizes.values())
    side = 224
    table.add_row("decoded-image cache", f"~{images * side * side * 3 / 1e9:.1f} GB at {side} px "
                  f"({images:,} images)" if images else "unknown (datasets missing)")
    dev = _device_type(device)
    rate = FALLBACK_IMAGES_PER_S.get(dev, FALLBACK_IMAGES_PER_S["cpu"])
    seconds = s["image_forwards"] / rate + s["train_steps"] * settings.batch_size * TRAIN_COST_FACTOR / rate
    table.add_row(f"estimated time on {dev}", f"~{seconds / 3600:.1f} h (ViT-B/16 table: {rate:.0f} img/s; "
                  "see docs/performance.md)")
    console.print(table)
    if suite.skipped:
        console.print(f"[dim]optional strategies not installed, skipped: {', '.join(suite.skipped)}[/]")
    if prepared.problems:
        console.print("[yellow]Missing or failing (a real run refuses to start until fixed):[/]")
        for p in prepared.problems:
            console.print(f"  - {p}")
    return s
