"""`rib bench --dry-run`: the plan, what is already done, what remains, what is missing, and what it will cost."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from rib_core.data.base import use_cache
from rib_core.engine.prepared import variant_label

# Documented fallback throughputs (images/s) for a ViT-B/16 at 224 px, used when no calibration is possible.
# GPU: bf16 inference on a current datacenter GPU; CPU: fp32 on a few cores. Training ~ 3x an inference pass.
FALLBACK_IMAGES_PER_S = {"cuda": 3000.0, "mps": 150.0, "cpu": 6.0}  # cpu: 2 cores, docs/performance.md
TRAIN_COST_FACTOR = 3.0
VIT_B16_PARAMETERS = 86e6


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


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def storage_rows(prepared, plan, costs) -> list[tuple[str, str]]:
    """The decoded-image cache (real image counts at each model's input size) and the fine-tuned weights
    (each model's real parameter count, fp32, one file per evaluated variant of each fine-tune)."""
    datasets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    published = " (published sizes of missing datasets)" if any(not d.samples for d in datasets) else ""
    sizes = sorted({c.input_size if c else 224 for c in costs.values()} or {224})
    rows, total = [], 0.0
    for ds in datasets:  # cache = true / false / "auto" (streams files already at the model's input size)
        setting = prepared.suite.cache if ds.spec.cache is None else ds.spec.cache
        images = ds.size("all")
        cached = [side for side in sizes if use_cache(setting, ds.adapter, side)]
        if cached:
            size = sum(images * side * side * 3 for side in cached)
            total += size
            rows.append((f"  cache {ds.label}", f"~{_bytes(size)} ({images:,} images at "
                         f"{', '.join(f'{side} px' for side in cached)})"))
        else:
            why = "" if setting is False else f", its files are {getattr(ds.adapter, 'image_size', None)} px"
            rows.append((f"  cache {ds.label}", f"0 GB: streamed (cache = {str(setting).lower()}{why})"))
    cache = f"~{_bytes(total)}{published}"
    weights_bytes, guessed = 0.0, False
    variants = {p.label: len(set([""] + list(p.strategy.variant_labels()))) for p in prepared.strategies}
    for cell in plan:
        if cell.kind != "finetune":
            continue
        cost = costs.get(cell.model)
        guessed |= cost is None
        parameters = cost.parameters if cost else VIT_B16_PARAMETERS
        weights_bytes += parameters * 4 * variants.get(cell.strategy, 1)
    per_model = ", ".join(f"{label} {_count(c.parameters)}" for label, c in costs.items() if c)
    basis = "fp32; parameters: " + (per_model or "") + ("; ViT-B/16's 86M where not known" if guessed else "")
    return [("decoded-image cache", cache), *rows,
            ("fine-tuned weights", f"~{_bytes(weights_bytes)} ({basis.strip('; ')})")]


def evaluation_rows(prepared) -> list[tuple[str, str]]:
    """Which images post-evaluations use (the suite's eval_images), per dataset: these counts are the ones the
    image forwards above add up."""
    suite = prepared.suite
    rows = [("evaluated images", f'eval_images = "{suite.eval_images}"')]
    datasets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    for ds in datasets:
        total = ds.size("all")
        if ds is prepared.reference:
            what = [f"after each fine-tune {_part(ds, ds.eval_subset, total)}"]
            if ds.anchor_subset != "all":
                what.append(f"EWC anchor {_part(ds, ds.anchor_subset, total)}")
        else:
            what = [f"ft on {_part(ds, ds.ft_subset, total)}", f"own column {_part(ds, ds.own_subset, total)}",
                    f"other columns {_part(ds, ds.eval_subset, total)}"]
        rows.append((f"  {'reference ' if ds is prepared.reference else ''}{ds.label}", "; ".join(what)))
    return rows


def _part(ds, subset: str, total: int) -> str:
    if subset == "all":
        return f"all {total:,}"
    return f"{ds.size(subset):,} of {total:,} ({subset})"


def estimated_seconds(plan, store, settings, costs, dev: str) -> tuple[float, str]:
    """Seconds for the pending cells: each model's measured rates here, or the documented table."""
    table_eval = FALLBACK_IMAGES_PER_S.get(dev, FALLBACK_IMAGES_PER_S["cpu"])
    seconds, measured, fallback = 0.0, set(), set()
    for cell in plan:
        if store.is_done(cell.key):
            continue
        cost = costs.get(cell.model)
        if cost is not None and cost.eval_images_per_s:
            eval_rate, train_rate = cost.eval_images_per_s, cost.train_images_per_s
            measured.add(cell.model)
        else:
            eval_rate, train_rate = table_eval, table_eval / TRAIN_COST_FACTOR
            fallback.add(cell.model)
        if cell.kind == "finetune":
            seconds += cell.work * settings.batch_size / train_rate
        else:
            seconds += cell.work / eval_rate
    parts = []
    if measured:
        rates = ", ".join(f"{label} {costs[label].eval_images_per_s:,.0f} img/s inference, "
                          f"{costs[label].train_images_per_s:,.0f} training" for label in sorted(measured))
        parts.append(f"measured here: {rates}")
    if fallback:
        parts.append(f"ViT-B/16 table, {table_eval:.0f} img/s (docs/performance.md), for {', '.join(sorted(fallback))}")
    return seconds, "; ".join(parts) or "nothing to run"


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
    table.add_row("strategies", escape(", ".join(variant_label(s_.label, v) for s_ in prepared.strategies
                                                 for v in s_.strategy.variant_labels())))  # "[...]" is not markup
    table.add_row("datasets", ", ".join(d.label for d in prepared.datasets))
    table.add_row("models × strategies × datasets",
                  f"{len(prepared.models)} × {len(prepared.strategies)} × {len(prepared.datasets)}"
                  + (f" (+ reference {prepared.reference.label})" if prepared.reference else ""))
    table.add_row("cells (eval + fine-tune)", f"{s['cells']} ({s['eval_cells']} + {s['finetune_cells']})")
    table.add_row("already done", str(s["done"]))
    table.add_row("to run", str(s["pending"]))
    table.add_row("image forwards to run", f"{s['image_forwards']:,}")
    table.add_row("training steps to run", f"{s['train_steps']:,} (batch {settings.batch_size})")
    for label, text in evaluation_rows(prepared):
        table.add_row(escape(label), escape(text))
    dev = _device_type(device)
    from rib_core.engine.calibrate import model_costs

    costs = model_costs(prepared, dev, timed=calibrate_speed and bool(s["pending"]))
    for label, text in storage_rows(prepared, plan_to_run, costs):
        table.add_row(label, text)
    seconds, source = estimated_seconds(plan_to_run, store, settings, costs, dev)
    table.add_row(f"estimated time on {dev}", f"~{_duration(seconds)} ({source})")
    console.print(table)
    if suite.skipped:
        console.print(f"[dim]optional strategies not installed, skipped: {', '.join(suite.skipped)}[/]")
    if prepared.problems:
        console.print("[yellow]Missing or failing (a real run refuses to start until fixed; missing weights only "
                      "when the model hubs are offline, HF_HUB_OFFLINE=1: online they download at the first cell):[/]")
        for p in prepared.problems:
            console.print(f"  - {p}")
    return s
