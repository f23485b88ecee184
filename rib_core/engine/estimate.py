"""`rib bench --dry-run`: the plan, what is already done, what remains, what is missing, and what it will cost."""

from __future__ import annotations

from rich.table import Table

# Documented fallback throughputs (images/s) for a ViT-B/16 at 224 px, used when no calibration is possible.
# GPU: bf16 inference on a current datacenter GPU; CPU: fp32 on a few cores. Training ~ 3x an inference pass.
FALLBACK_IMAGES_PER_S = {"cuda": 3000.0, "mps": 150.0, "cpu": 6.0}  # cpu: 2 cores, docs/performance.md
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


def calibrate(device_type: str) -> tuple[float, float] | None:
    """Measured (inference, training) images/s of a randomly initialised ViT-B/16 on this device, or None.

    The paper's architecture stands in for every backbone: a few batches, a few seconds.
    """
    try:
        import time

        import timm
        import torch

        device = torch.device(device_type)
        model = timm.create_model("vit_base_patch16_224", pretrained=False).to(device)
        batch = 64 if device.type == "cuda" else 2
        x = torch.randn(batch, 3, 224, 224, device=device)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None

        def timed(fn, repeats=2):
            fn()  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            return repeats * batch / (time.perf_counter() - start)

        def forward():
            with torch.no_grad(), (autocast or torch.autocast("cpu", enabled=False)):
                model(x)

        def train_step():
            with autocast or torch.autocast("cpu", enabled=False):
                model(x).float().mean().backward()

        return timed(forward), timed(train_step, repeats=1)
    except Exception:
        return None


def summarize(plan, store) -> dict:
    done = [c for c in plan if store.is_done(c.key)]
    todo = [c for c in plan if c not in done]
    return {
        "cells": len(plan), "done": len(done), "pending": len(todo),
        "eval_cells": sum(c.kind == "eval" for c in plan), "finetune_cells": sum(c.kind == "finetune" for c in plan),
        "image_forwards": sum(c.work for c in todo if c.kind == "eval"),
        "train_steps": sum(c.work for c in todo if c.kind == "finetune"),
    }


def print_dry_run(prepared, plan, plan_to_run, store, console, calibrate_speed: bool = True,
                  device: str = "auto") -> dict:
    s = summarize(plan_to_run, store)
    settings = prepared.settings
    suite = prepared.suite
    table = Table(title=f"suite '{suite.name}' ({suite.source})", title_justify="left", show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right")
    table.add_row("models", ", ".join(m.label for m in prepared.models))
    table.add_row("strategies", ", ".join(s_.label for s_ in prepared.strategies))
    table.add_row("datasets", ", ".join(d.label for d in prepared.datasets))
    table.add_row("models × strategies × datasets",
                  f"{len(prepared.models)} × {len(prepared.strategies)} × {len(prepared.datasets)}"
                  + (f" (+ reference {prepared.reference.label})" if prepared.reference else ""))
    table.add_row("cells (eval + fine-tune)", f"{s['cells']} ({s['eval_cells']} + {s['finetune_cells']})")
    table.add_row("already done", str(s["done"]))
    table.add_row("to run", str(s["pending"]))
    table.add_row("image forwards to run", f"{s['image_forwards']:,}")
    table.add_row("training steps to run", f"{s['train_steps']:,} (batch {settings.batch_size})")
    _cache_rows(table, prepared)
    weights_gb = s["finetune_cells"] * 86e6 * 4 / 1e9
    table.add_row("fine-tuned weights", f"~{weights_gb:.0f} GB (ViT-B/16: 86M parameters, fp32, per fine-tune)")
    dev = _device_type(device)
    measured = calibrate(dev) if calibrate_speed and s["pending"] else None
    if measured:
        eval_rate, train_rate = measured
        source = f"measured here on a random ViT-B/16: {eval_rate:.0f} img/s inference, {train_rate:.0f} training"
    else:
        eval_rate = FALLBACK_IMAGES_PER_S.get(dev, FALLBACK_IMAGES_PER_S["cpu"])
        train_rate = eval_rate / TRAIN_COST_FACTOR
        source = f"ViT-B/16 table: {eval_rate:.0f} img/s; docs/performance.md"
    seconds = s["image_forwards"] / eval_rate + s["train_steps"] * settings.batch_size / train_rate
    table.add_row(f"estimated time on {dev}", f"~{seconds / 3600:.1f} h ({source})")
    console.print(table)
    if suite.skipped:
        console.print(f"[dim]optional strategies not installed, skipped: {', '.join(suite.skipped)}[/]")
    if prepared.problems:
        console.print("[yellow]Missing or failing (a real run refuses to start until fixed):[/]")
        for p in prepared.problems:
            console.print(f"  - {p}")
    return s


def _cache_rows(table, prepared, side: int = 224) -> None:
    """Disk of the decoded-image cache, in total and per dataset (cache = true / false / "auto")."""
    from rib_core.data.base import use_cache

    rows, total = [], 0.0
    for ds in prepared.datasets + ([prepared.reference] if prepared.reference else []):
        setting = prepared.suite.cache if ds.spec.cache is None else ds.spec.cache
        images = ds.size("all")
        if use_cache(setting, ds.adapter, side):
            gb = images * side * side * 3 / 1e9
            total += gb
            rows.append((f"  cache {ds.label}", f"~{gb:.1f} GB ({images:,} images)"))
        else:
            why = "" if setting is False else f", its files are {ds.adapter.image_size} px"
            rows.append((f"  cache {ds.label}", f"0 GB: streamed (cache = {str(setting).lower()}{why})"))
    estimated = " (published sizes of missing datasets)" if any(not d.samples for d in prepared.datasets) else ""
    table.add_row("decoded-image cache", f"~{total:.1f} GB at {side} px{estimated}")
    for label, value in rows:
        table.add_row(label, value)
