"""The two cell executors: evaluate a model on a dataset, fine-tune a model with a strategy. Each writes its
files and then its record (the record last: a cell without one is not done and reruns)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import torch

from rib_core.data.base import cluster_index
from rib_core.data.source_split import shared_sources, source_numbers
from rib_core.engine import distributed
from rib_core.engine.compat import refuse_incompatible
from rib_core.engine.evaluate import predict
from rib_core.engine.prepared import Cell
from rib_core.engine.resources import check_label_space, weights_file
from rib_core.engine.soup_plan import split_label
from rib_core.engine.store import save_tensors
from rib_core.engine.train_data import TrainData
from rib_core.errors import RibError
from rib_core.paths import cache_dir


def run_eval(runner, cell: Cell) -> None:
    ds = runner.prepared.dataset(cell.eval_dataset)
    backbone = runner.resources.backbone(cell.model)
    if cell.finetune_key is None:
        model = backbone.model
    else:
        model = runner.resources.variant_model(cell, runner.store)
    images = runner.resources.images(ds, backbone.preprocess)
    positions = ds.positions(cell.subset)
    class_map = ds.adapter.class_map()
    check_label_space(backbone, class_map, ds.label)

    def on_batch(n: int) -> None:
        runner.stats.image_forwards += n
        if runner.progress:
            runner.progress.advance(n)

    started = time.perf_counter()
    out = predict(model, backbone.preprocess, images, distributed.my_part(positions), class_map, runner.device,
                  runner.prepared.suite.eval_batch_size, precision=runner.prepared.suite.eval_precision,
                  on_batch=on_batch)
    seconds = time.perf_counter() - started
    parts = distributed.gather(out)  # rank order == image order: each rank held a contiguous part
    if not distributed.is_main():
        distributed.barrier()
        return
    if len(parts) > 1:
        out = {k: torch.cat([p[k] for p in parts]) for k in ("top_idx", "top_prob", "positions")} | {
            "batch_size": out["batch_size"]}
    evaluated = out["positions"].numpy()
    labels = np.array([ds.samples[p].label for p in evaluated], dtype=np.int64)
    groups = [ds.samples[p].group for p in evaluated]
    group_names = sorted(set(groups))
    group_index = np.array([group_names.index(g) for g in groups], dtype=np.int64) if groups else np.zeros(0, np.int64)
    correct = out["top_idx"][:, 0].numpy() == labels
    accuracy, details = ds.adapter.accuracy(correct, groups)
    digest = save_tensors(runner.store.cell_dir(cell.key) / "predictions.safetensors", {
        "positions": out["positions"], "labels": torch.from_numpy(labels),
        "top_idx": out["top_idx"], "top_prob": out["top_prob"], "group_index": torch.from_numpy(group_index),
        "cluster_index": torch.from_numpy(cluster_index(ds.samples)[evaluated]),  # for the bootstrap
        **source_tensor(ds, evaluated),  # the joint bootstrap across datasets that share source images
    })
    unreadable = sorted(set(int(p) for p in positions) - set(int(p) for p in evaluated))
    record = runner.base_record(cell) | {
        "kind": "eval", "accuracy": accuracy, "n_images": int(len(evaluated)), "details": details,
        "groups": group_names, "unreadable": [ds.samples[p].path for p in unreadable],
        "source_images": shared_sources(ds.adapter),
        "backbone": backbone.identity, "batch_size": out["batch_size"], "precision": runner.prepared.suite.eval_precision,
        "timing": {"seconds": seconds, "images_per_s": len(evaluated) / seconds if seconds > 0 else None},
        "files": {"predictions.safetensors": digest},
    }
    if distributed.active():
        record["processes"] = distributed.world_size()
    runner.store.write_record(cell.key, record)
    distributed.barrier()


def source_tensor(ds, evaluated) -> dict:
    """{"source_index": the val id of each evaluated image's source} for a dataset that shares source images
    (rib_core/data/source_split.py), else {}: what lets the report resample those datasets jointly."""
    if shared_sources(ds.adapter) is None:
        return {}
    return {"source_index": torch.from_numpy(source_numbers([ds.samples[p] for p in evaluated]))}


def run_finetune(runner, cell: Cell) -> None:
    from rib_core.strategies.base import TrainContext
    from rib_core.engine.train import fine_tune

    prepared = runner.prepared
    spec = next((s for s in prepared.strategies if s.spec.name == cell.strategy_name and s.label == cell.strategy), None)
    strategy = spec.strategy if spec is not None else stage_strategy(prepared, cell)
    ds = prepared.dataset(cell.ft_dataset)
    backbone = runner.resources.fresh_backbone(cell.model, runner.resources.pretrained_state(cell.model))
    refuse_incompatible(strategy, cell.strategy, spec.plugin if spec else "", cell.model, backbone)  # compat.py
    class_map = ds.adapter.class_map()
    check_label_space(backbone, class_map, ds.label)
    images = runner.resources.images(ds, backbone.preprocess)
    settings = prepared.settings
    seed = cell.seed if cell.seed is not None else prepared.suite.seed  # data order, new parameters, sampling
    labels = np.array([s.label for s in ds.samples], dtype=np.int64)
    train_data = TrainData(images, ds.positions(ds.ft_subset), labels, backbone.preprocess, runner.device,
                           settings.batch_size, seed, f"{ds.fingerprint}/{ds.ft_subset}", class_map)
    anchor = None
    if prepared.reference is not None and prepared.reference.samples:
        ref = prepared.reference
        ref_labels = np.array([s.label for s in ref.samples], dtype=np.int64)
        # All of it, or (eval_images = "held-out-sources") the part its post-evaluations never see.
        part = ref.anchor_subset
        anchor = TrainData(runner.resources.images(ref, backbone.preprocess), ref.positions(part), ref_labels,
                           backbone.preprocess, runner.device, settings.batch_size, seed,
                           ref.fingerprint if part == "all" else f"{ref.fingerprint}/{part}",
                           ref.adapter.class_map())

    def load_stage(name: str) -> dict:
        """The stored weights of a dependency: a strategy name (lp of lp-ft) or a label[variant] (soups)."""
        from safetensors.torch import load_file

        label, variant = split_label(name)
        for dep in cell.deps:
            dep_cell = runner.by_key.get(dep)
            if dep_cell is not None and name in (dep_cell.strategy_name, dep_cell.strategy):
                return load_file(str(runner.store.cell_dir(dep) / weights_file("")))
            if dep_cell is not None and variant and dep_cell.strategy == label:
                return load_file(str(runner.store.cell_dir(dep) / weights_file(variant)))
        raise RibError(f"strategy '{cell.strategy}' needs the result of '{name}', which this plan lacks.")

    ctx = TrainContext(backbone=backbone, class_map=class_map, settings=settings, device=runner.device,
                       pretrained_state=runner.resources.pretrained_state(cell.model), train_data=train_data,
                       anchor_data=anchor, cache_dir=cache_dir() / "strategies", load_stage=load_stage)
    work_dir = runner.store.cell_dir(cell.key) / "work"
    started = time.perf_counter()

    def on_step(step, total, loss):
        runner.stats.train_steps += 1
        if runner.progress:
            runner.progress.advance(1)

    variants = fine_tune(ctx, strategy, work_dir=work_dir, seed=seed, on_step=on_step)
    seconds = time.perf_counter() - started
    if not distributed.is_main():
        distributed.barrier()
        return
    files = {}
    for variant, state in variants.items():
        files[weights_file(variant)] = save_tensors(runner.store.cell_dir(cell.key) / weights_file(variant), state)
    log = _read_json(work_dir / "train_log.json")
    record = runner.base_record(cell) | {
        "kind": "finetune", "strategy_params": strategy.params, "settings": settings.__dict__,
        "variants": list(variants), "backbone": backbone.identity, "files": files,
        "timing": {"seconds": seconds}, "train_log": log,
        "ft_images": int(len(ds.positions(ds.ft_subset))),
        # skipped as unreadable (found by decoding, so only known when the strategy trained)
        "ft_unreadable": train_data.unreadable if strategy.trains else None,
    }
    if distributed.active():
        record["processes"] = distributed.world_size()
    runner.store.write_record(cell.key, record)
    shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints of a finished fine-tune only cost disk
    distributed.barrier()


def stage_strategy(prepared, cell: Cell):
    """The strategy of a fine-tune that exists only as another's first stage (lp-ft's `first`), with the options
    that stage was planned with: the one whose key is the cell's (the default: the registered one, unconfigured)."""
    from rib_core.engine.plan import finetune_key

    model = next(m for m in prepared.models if m.label == cell.model)
    ds = prepared.dataset(cell.ft_dataset)
    for ps in prepared.strategies:
        if ps.strategy.init_from:
            name, stage = ps.strategy.first_stage(prepared.registry)
            if name == cell.strategy_name and finetune_key(prepared, model, name, stage, ds, None,
                                                           cell.seed) == cell.key:
                return stage
    return prepared.registry.get("strategies", cell.strategy_name).create()


def _read_json(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
