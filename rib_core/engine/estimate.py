"""`rib bench --dry-run`: the plan, what is already done, what remains, what is missing, and what it will cost."""

from __future__ import annotations

import os

from rich.markup import escape
from rich.table import Table

from rib_core.data.base import use_cache
from rib_core.engine.calibrate import RunCost
from rib_core.engine.prepared import variant_label

# Documented fallback throughputs (images/s) for a ViT-B/16 at 224 px, used when a model cannot be timed here.
# GPU: bf16 inference on a current datacenter GPU; CPU: fp32 on a few cores. Training ~ 3x an inference pass.
FALLBACK_IMAGES_PER_S = {"cuda": 3000.0, "mps": 150.0, "cpu": 6.0}  # cpu: 2 cores, docs/performance.md
TRAIN_COST_FACTOR = 3.0
VIT_B16_PARAMETERS = 86e6
# The rest of a run when it is not measured (--no-calibrate): docs/performance.md.
TABLE_STARTUP_S = 5.0  # importing torch and timm, finding plugins, listing the datasets
TABLE_FILE_WRITE_S = 0.01  # one small file written durably (fsync, rename) on a shared disk
TABLE_WRITE_BYTES_PER_S = 200e6
TABLE_DECODE_IMAGES_PER_S = 300.0  # one process decoding and resizing a 500 x 375 JPEG (§1: ~2 ms + ~1.4 ms)
PREDICTION_BYTES_PER_IMAGE = 100  # top-5 indices and probabilities, position, label, group, cluster


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
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _count(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _sizes(costs) -> list[int]:
    return sorted({c.input_size for c in costs.values() if c.input_size} or {224})


def _cached_datasets(prepared, costs):
    """(dataset, images, sides it is cached at) for every dataset the run caches."""
    datasets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    for ds in datasets:  # cache = true / false / "auto" (streams files already at the model's input size)
        setting = prepared.suite.cache if ds.spec.cache is None else ds.spec.cache
        yield ds, setting, ds.size("all"), [side for side in _sizes(costs) if use_cache(setting, ds.adapter, side)]


def storage_rows(prepared, plan, costs) -> list[tuple[str, str]]:
    """The decoded-image cache (real image counts at each model's input size) and the fine-tuned weights
    (each model's own parameter count, fp32, one file per evaluated variant of each fine-tune)."""
    datasets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    published = " (published sizes of missing datasets)" if any(not d.samples for d in datasets) else ""
    rows, total = [], 0.0
    for ds, setting, images, cached in _cached_datasets(prepared, costs):
        if cached:
            size = sum(images * side * side * 3 for side in cached)
            total += size
            rows.append((f"  cache {ds.label}", f"~{_bytes(size)} ({images:,} images at "
                         f"{', '.join(f'{side} px' for side in cached)})"))
        else:
            why = "" if setting is False else f", its files are {getattr(ds.adapter, 'image_size', None)} px"
            rows.append((f"  cache {ds.label}", f"0 GB: streamed (cache = {str(setting).lower()}{why})"))
    cache = f"~{_bytes(total)}{published}"
    weights_bytes, guessed = 0.0, {}
    variants = {p.label: len(set(p.strategy.variant_labels())) for p in prepared.strategies}
    for cell in plan:
        if cell.kind != "finetune":
            continue
        cost = costs.get(cell.model)
        parameters = cost.parameters if cost and cost.parameters else None
        if parameters is None:
            guessed[cell.model] = cost.size_source if cost else "not known"
        weights_bytes += (parameters or VIT_B16_PARAMETERS) * 4 * variants.get(cell.strategy, 1)
    known = ", ".join(f"{label} {_count(c.parameters)}" for label, c in costs.items() if c.parameters)
    basis = ["fp32"] + ([f"parameters, from each model's architecture: {known}"] if known else [])
    basis += [f"{label}: ViT-B/16's 86M assumed, because {why}" for label, why in guessed.items()]
    return [("decoded-image cache", cache), *rows,
            ("fine-tuned weights", f"~{_bytes(weights_bytes)} ({'; '.join(basis)})")]


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


def _model_rates(cost, table_eval: float) -> tuple[float, float, bool]:
    """(inference, training images/s, measured?) of a model: measured here, else the ViT-B/16 table."""
    if cost is not None and cost.eval_images_per_s and cost.train_images_per_s:
        return cost.eval_images_per_s, cost.train_images_per_s, True
    return table_eval, table_eval / TRAIN_COST_FACTOR, False


def _files(cell, settings, strategies, parameters: float) -> tuple[int, float]:
    """(files, bytes) a cell writes: an evaluation its predictions and record; a fine-tune its epoch checkpoints
    (weights and momentum, their manifest and the training log), one weights file per variant, its record."""
    if cell.kind != "finetune":
        return 2, cell.work * PREDICTION_BYTES_PER_IMAGE
    strategy = strategies.get(cell.strategy)
    variants = len(set(strategy.variant_labels())) if strategy is not None else 1
    files, written = variants + 2, variants * parameters * 4
    if strategy is None or strategy.trains:
        per_epoch = 3 if settings.checkpoint_every_epoch else 1
        files += settings.epochs * per_epoch
        if settings.checkpoint_every_epoch:
            written += settings.epochs * parameters * 4 * 2
    return files, written


def estimated_seconds(plan, store, settings, costs, dev: str, prepared=None, run_cost=None) -> tuple[float, str]:
    """Seconds for the pending cells, and what the figure is made of (measured here, or from which table, why):
    each model's forwards and training steps at its rates, plus, with `prepared`, the run's start-up, decoding
    the images into the cache and writing every file."""
    table_eval = FALLBACK_IMAGES_PER_S.get(dev, FALLBACK_IMAGES_PER_S["cpu"])
    strategies = {p.label: p.strategy for p in prepared.strategies} if prepared is not None else {}
    seconds, measured, fallback = 0.0, set(), {}
    files, written = 0, 0.0
    pending = [c for c in plan if not store.is_done(c.key)]
    for cell in pending:
        cost = costs.get(cell.model)
        eval_rate, train_rate, timed = _model_rates(cost, table_eval)
        if timed:
            measured.add(cell.model)
        else:
            fallback[cell.model] = (cost.not_timed if cost else "") or "not measured"
        if cell.kind == "finetune":
            seconds += cell.work * settings.batch_size / train_rate
        else:
            seconds += cell.work / eval_rate
        parameters = cost.parameters if cost is not None and cost.parameters else VIT_B16_PARAMETERS
        n, size = _files(cell, settings, strategies, parameters)
        files, written = files + n, written + size
    parts = []
    if measured:
        rates = ", ".join(f"{label} {costs[label].eval_images_per_s:,.0f} img/s inference, "
                          f"{costs[label].train_images_per_s:,.0f} training (batches {costs[label].eval_batch}, "
                          f"{costs[label].train_batch})" for label in sorted(measured))
        parts.append(f"measured here: {rates}")
    if fallback:
        why = "; ".join(f"{label}: {reason}" for label, reason in sorted(fallback.items()))
        parts.append(f"ViT-B/16 table, {table_eval:.0f} img/s (docs/performance.md), for {', '.join(sorted(fallback))}"
                     f" ({why})")
    if prepared is None or not pending:
        return seconds, "; ".join(parts) or "nothing to run"
    run_cost = run_cost or RunCost()
    model_seconds = seconds
    startup = run_cost.startup_s if run_cost.startup_s is not None else TABLE_STARTUP_S
    write_s = run_cost.file_write_s if run_cost.file_write_s is not None else TABLE_FILE_WRITE_S
    write_rate = run_cost.write_bytes_per_s or TABLE_WRITE_BYTES_PER_S
    writing = files * write_s + written / write_rate
    decoding, decoded, decode_table = 0.0, 0, False
    processes = max(1, min(8, os.cpu_count() or 1))  # `rib bench --workers` default
    for ds, _, images, cached in _cached_datasets(prepared, costs):
        if cached:
            rate = run_cost.decode_images_per_s.get(ds.label)
            decode_table |= rate is None
            decoding += len(cached) * images / ((rate or TABLE_DECODE_IMAGES_PER_S) * processes)
            decoded += len(cached) * images
    seconds = model_seconds + startup + writing + decoding
    source = "measured here" if run_cost.file_write_s is not None else "table"
    parts.append(f"of which models {_duration(model_seconds)}; start-up {_duration(startup)} "
                 f"({'this process' if run_cost.startup_s is not None else 'table'}); writing {files:,} files "
                 f"{_duration(writing)} ({source}: {write_s * 1e3:.1f} ms a file, {write_rate / 1e6:,.0f} MB/s); "
                 f"decoding {decoded:,} images into the cache {_duration(decoding)} "
                 f"({'table' if decode_table else 'measured here'}, {processes} process(es), if not cached yet)")
    return seconds, "; ".join(parts)


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
    from rib_core.engine.calibrate import model_costs, run_costs

    timed = calibrate_speed and bool(s["pending"])
    run_cost = run_costs(prepared, store.root, [], timed=False)  # start-up: up to here, before any timing
    costs = model_costs(prepared, dev, timed=timed)
    if timed:
        measured = run_costs(prepared, store.root, _sizes(costs))
        measured.startup_s = run_cost.startup_s
        run_cost = measured
    for label, text in storage_rows(prepared, plan_to_run, costs):
        table.add_row(escape(label), escape(text))
    seconds, source = estimated_seconds(plan_to_run, store, settings, costs, dev, prepared, run_cost)
    table.add_row(f"estimated time on {dev}", escape(f"~{_duration(seconds)} ({source})"))
    console.print(table)
    if suite.skipped:
        console.print(f"[dim]optional strategies not installed, skipped: {', '.join(suite.skipped)}[/]")
    if prepared.problems:
        console.print("[yellow]Missing or failing (a real run refuses to start until fixed; missing weights only "
                      "when the model hubs are offline, HF_HUB_OFFLINE=1: online they download at the first cell):[/]")
        for p in prepared.problems:
            console.print(f"  - {p}")
    return s
