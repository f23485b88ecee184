"""Executes a plan cell by cell, skipping what the store already holds, writing each result the moment it exists.

A failing cell is recorded with its error and the run goes on with every cell that does not depend on it.
Ctrl-C stops after the cell in flight is abandoned (its fine-tune checkpoints stay, so it resumes later).
"""

from __future__ import annotations

import copy
import errno
import platform
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import rib_core
from rib_core.engine import distributed
from rib_core.engine.evaluate import predict
from rib_core.engine.plan import Cell, Prepared
from rib_core.engine.soup_plan import split_label
from rib_core.engine.train_data import TrainData
from rib_core.data.base import cluster_index, use_cache
from rib_core.engine.store import Store, save_tensors
from rib_core.errors import RibError, UsageError
from rib_core.paths import cache_dir


DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def select_device(requested: str | None = "auto") -> torch.device:
    if requested in (None, "auto"):
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise UsageError(f"unknown device '{requested}': {exc}. Use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RibError("--device cuda was asked for, but torch sees no CUDA GPU. Use --device cpu.")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


@dataclass
class RunStats:
    image_forwards: int = 0
    train_steps: int = 0
    cells_run: int = 0
    cells_reused: int = 0
    failed: list = field(default_factory=list)  # (cell description, error)
    skipped: list = field(default_factory=list)  # cells not run because a dependency failed

    def __getitem__(self, name):  # lets evaluate.predict count into it like a dict
        return getattr(self, name)

    def __setitem__(self, name, value):
        setattr(self, name, value)


def versions(prepared: Prepared) -> dict:
    out = {"rib": rib_core.__version__, "torch": torch.__version__, "python": platform.python_version()}
    try:
        import timm

        out["timm"] = timm.__version__
    except ImportError:
        pass
    for info in prepared.registry.plugins.values():
        if not info.builtin and info.version:
            out[info.name] = info.version
    return out


class Runner:
    def __init__(self, prepared: Prepared, plan: list[Cell], store: Store, device: torch.device,
                 progress=None, workers: int = 0):
        self.prepared, self.plan, self.store, self.device = prepared, plan, store, device
        self.progress = progress
        self.workers = workers
        self.stats = RunStats()
        self._backbones: dict[str, object] = {}  # model label -> pretrained Backbone (kept on CPU state)
        self._pretrained_state: dict[str, dict] = {}
        self._images: dict[tuple, object] = {}
        self._loaded_variant: tuple | None = None
        self._variant_model = None
        self._versions = versions(prepared)
        self.by_key = {c.key: c for c in plan}
        self.failed_keys: set[str] = set()

    # -- resources ---------------------------------------------------------------------------------------
    def backbone(self, label: str):
        if label not in self._backbones:
            self._backbones.clear()
            self._pretrained_state.clear()
            self._loaded_variant, self._variant_model = None, None
            model = next(m for m in self.prepared.models if m.label == label)
            loader = self.prepared.registry.load("models", model.spec.name)
            backbone = loader(model.spec.name, weights=model.spec.weights, options=dict(model.spec.options))
            backbone.model.to(self.device).eval()
            self._pretrained_state[label] = {k: v.detach().cpu().clone() for k, v in backbone.model.state_dict().items()}
            self._backbones[label] = backbone
        return self._backbones[label]

    def images(self, ds, preprocess):
        from rib_core.data.images import open_images

        key = (ds.label, preprocess.geometry_key())
        if key not in self._images:
            setting = self.prepared.suite.cache if ds.spec.cache is None else ds.spec.cache
            cache = cache_dir() / "images" if use_cache(setting, ds.adapter, preprocess.input_size) else None

            def open_():
                return open_images(ds.adapter, ds.samples, preprocess, cache, workers=self.workers,
                                   strict=self.prepared.suite.strict_images)

            if cache is not None and distributed.active():
                # Rank 0 builds the shared cache; the others then only read it.
                if distributed.is_main():
                    self._images[key] = open_()
                distributed.barrier()
                if not distributed.is_main():
                    self._images[key] = open_()
            else:
                self._images[key] = open_()
        return self._images[key]

    def fresh_backbone(self, label: str, state: dict):
        """A copy of the model's backbone carrying `state` (the pretrained one stays untouched)."""
        base = self.backbone(label)
        backbone = copy.copy(base)
        backbone.model = copy.deepcopy(base.model)
        backbone.model.load_state_dict(state)
        return backbone

    # -- running -----------------------------------------------------------------------------------------
    def run(self) -> RunStats:
        if self.device.type == "cpu" and self.prepared.suite.cpu_threads:
            torch.set_num_threads(self.prepared.suite.cpu_threads)
        distributed.barrier()
        todo = distributed.broadcast([c for c in self.plan if not self.store.is_done(c.key)])
        self.stats.cells_reused = len(self.plan) - len(todo)
        if self.progress:
            self.progress.start(len(self.plan), self.stats.cells_reused)
        for cell in todo:
            self.run_one(cell)
        return self.stats

    def run_one(self, cell: Cell) -> bool:
        """Run one cell (its dependencies must be done); record a failure instead of raising. True if it worked."""
        if any(dep in self.failed_keys for dep in cell.deps):
            self.failed_keys.add(cell.key)
            self.stats.skipped.append(cell.describe())
            if self.progress:
                self.progress.cell_done(cell, ok=False)
            return False
        started = time.perf_counter()
        if self.progress:
            self.progress.cell_started(cell)
        error = None
        try:
            if cell.kind == "finetune":
                self.run_finetune(cell)
            else:
                self.run_eval(cell)
        except (KeyboardInterrupt, SystemExit):
            raise
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise  # every further cell would fail at its write too: stop, keep what is stored
            error = (self._describe_error(exc), traceback.format_exc())
        except Exception as exc:
            error = (self._describe_error(exc), traceback.format_exc())
        errors = [e for e in distributed.gather(error) if e is not None]  # every rank learns of any failure
        if errors:
            self.failed_keys.add(cell.key)
            self.stats.failed.append((cell.describe(), errors[0][0]))
            if distributed.is_main():
                self.store.write_failure(cell.key, {"cell": cell.as_dict(), "error": errors[0][0],
                                                    "traceback": errors[0][1]})
            if self.progress:
                self.progress.cell_done(cell, ok=False)
            return False
        self.stats.cells_run += 1
        if self.progress:
            self.progress.cell_done(cell, ok=True, seconds=time.perf_counter() - started)
        return True

    def _describe_error(self, exc: Exception) -> str:
        """The error's message, naming the plugin whose code raised it (innermost frame in a plugin's package)."""
        if isinstance(exc, RibError):
            return str(exc)
        message = f"{type(exc).__name__}: {exc}"
        packages = {}
        registry = self.prepared.registry
        for registrations in registry.entries.values():
            for reg in registrations.values():
                info = registry.plugins.get(reg.plugin)
                if info is not None and not info.builtin:
                    packages[reg.target.split(":")[0].split(".")[0]] = reg.plugin
        tb = exc.__traceback__
        modules = []
        while tb is not None:
            modules.append(tb.tb_frame.f_globals.get("__name__", ""))
            tb = tb.tb_next
        for module in reversed(modules):
            plugin = packages.get(module.split(".")[0])
            if plugin:
                return f"plugin '{plugin}' failed: {message}"
        return message

    def _base_record(self, cell: Cell) -> dict:
        return {"cell": cell.as_dict(), "versions": self._versions, "device": str(self.device),
                "suite": self.prepared.suite.name}

    def run_eval(self, cell: Cell) -> None:
        ds = self.prepared.dataset(cell.eval_dataset)
        backbone = self.backbone(cell.model)
        if cell.finetune_key is None:
            model = backbone.model
        else:
            model = self.variant_model(cell)
        images = self.images(ds, backbone.preprocess)
        positions = ds.positions(cell.subset)
        class_map = ds.adapter.class_map()
        _check_label_space(backbone, class_map, ds.label)
        started = time.perf_counter()
        out = predict(model, backbone.preprocess, images, distributed.my_part(positions), class_map, self.device,
                      self.prepared.suite.eval_batch_size, precision=self.prepared.suite.eval_precision, counter=self.stats,
                      on_batch=self.progress.advance if self.progress else None)
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
        digest = save_tensors(self.store.cell_dir(cell.key) / "predictions.safetensors", {
            "positions": out["positions"], "labels": torch.from_numpy(labels),
            "top_idx": out["top_idx"], "top_prob": out["top_prob"], "group_index": torch.from_numpy(group_index),
            "cluster_index": torch.from_numpy(cluster_index(ds.samples)[evaluated]),  # for the bootstrap
        })
        unreadable = sorted(set(int(p) for p in positions) - set(int(p) for p in evaluated))
        record = self._base_record(cell) | {
            "kind": "eval", "accuracy": accuracy, "n_images": int(len(evaluated)), "details": details,
            "groups": group_names, "unreadable": [ds.samples[p].path for p in unreadable],
            "backbone": backbone.identity, "batch_size": out["batch_size"], "precision": self.prepared.suite.eval_precision,
            "timing": {"seconds": seconds, "images_per_s": len(evaluated) / seconds if seconds > 0 else None},
            "files": {"predictions.safetensors": digest},
        }
        if distributed.active():
            record["processes"] = distributed.world_size()
        self.store.write_record(cell.key, record)
        distributed.barrier()

    def variant_model(self, cell: Cell):
        wanted = (cell.finetune_key, cell.variant)
        if self._loaded_variant != wanted:
            from safetensors.torch import load_file

            path = self.store.cell_dir(cell.finetune_key) / weights_file(cell.variant)
            state = load_file(str(path))
            self._variant_model = self.fresh_backbone(cell.model, state).model.eval()
            self._loaded_variant = wanted
        return self._variant_model

    def run_finetune(self, cell: Cell) -> None:
        from rib_core.strategies.base import TrainContext
        from rib_core.engine.train import fine_tune

        prepared = self.prepared
        ps_cls = prepared.registry.load("strategies", cell.strategy_name)
        spec = next((s for s in prepared.strategies if s.spec.name == cell.strategy_name and s.label == cell.strategy), None)
        strategy = spec.strategy if spec is not None else ps_cls()
        ds = prepared.dataset(cell.ft_dataset)
        backbone = self.fresh_backbone(cell.model, self._pretrained_state_of(cell.model))
        class_map = ds.adapter.class_map()
        _check_label_space(backbone, class_map, ds.label)
        images = self.images(ds, backbone.preprocess)
        settings = prepared.settings
        seed = cell.seed if cell.seed is not None else prepared.suite.seed  # data order, new parameters, sampling
        labels = np.array([s.label for s in ds.samples], dtype=np.int64)
        train_data = TrainData(images, ds.positions(ds.ft_subset), labels, backbone.preprocess, self.device,
                               settings.batch_size, seed, f"{ds.fingerprint}/{ds.ft_subset}", class_map)
        anchor = None
        if prepared.reference is not None and prepared.reference.samples:
            ref = prepared.reference
            ref_labels = np.array([s.label for s in ref.samples], dtype=np.int64)
            # All of it, or (eval_images = "held-out-sources") the part its post-evaluations never see.
            part = ref.anchor_subset
            anchor = TrainData(self.images(ref, backbone.preprocess), ref.positions(part), ref_labels,
                               backbone.preprocess, self.device, settings.batch_size, seed,
                               ref.fingerprint if part == "all" else f"{ref.fingerprint}/{part}",
                               ref.adapter.class_map())

        def load_stage(name: str) -> dict:
            """The stored weights of a dependency: a strategy name (lp of lp-ft) or a label[variant] (soups)."""
            from safetensors.torch import load_file

            label, variant = split_label(name)
            for dep in cell.deps:
                dep_cell = self.by_key.get(dep)
                if dep_cell is not None and name in (dep_cell.strategy_name, dep_cell.strategy):
                    return load_file(str(self.store.cell_dir(dep) / weights_file("")))
                if dep_cell is not None and variant and dep_cell.strategy == label:
                    return load_file(str(self.store.cell_dir(dep) / weights_file(variant)))
            raise RibError(f"strategy '{cell.strategy}' needs the result of '{name}', which this plan lacks.")

        ctx = TrainContext(backbone=backbone, class_map=class_map, settings=settings, device=self.device,
                           pretrained_state=self._pretrained_state_of(cell.model), train_data=train_data,
                           anchor_data=anchor, cache_dir=cache_dir() / "strategies", load_stage=load_stage)
        work_dir = self.store.cell_dir(cell.key) / "work"
        started = time.perf_counter()

        def on_step(step, total, loss):
            self.stats.train_steps += 1
            if self.progress:
                self.progress.advance(1)

        variants = fine_tune(ctx, strategy, work_dir=work_dir, seed=seed, on_step=on_step)
        seconds = time.perf_counter() - started
        if not distributed.is_main():
            distributed.barrier()
            return
        files = {}
        for variant, state in variants.items():
            files[weights_file(variant)] = save_tensors(self.store.cell_dir(cell.key) / weights_file(variant), state)
        log = _read_json(work_dir / "train_log.json")
        record = self._base_record(cell) | {
            "kind": "finetune", "strategy_params": strategy.params, "settings": settings.__dict__,
            "variants": list(variants), "backbone": backbone.identity, "files": files,
            "timing": {"seconds": seconds}, "train_log": log,
            "ft_images": int(len(ds.positions(ds.ft_subset))),
        }
        if distributed.active():
            record["processes"] = distributed.world_size()
        self.store.write_record(cell.key, record)
        shutil.rmtree(work_dir, ignore_errors=True)  # checkpoints of a finished fine-tune only cost disk
        distributed.barrier()

    def _pretrained_state_of(self, label: str) -> dict:
        self.backbone(label)
        return self._pretrained_state[label]


def weights_file(variant: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "=._-" else "_" for ch in variant)
    return f"weights-{safe}.safetensors" if variant else "weights.safetensors"


def _read_json(path: Path):
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_label_space(backbone, class_map, label: str) -> None:
    if backbone.label_space != class_map.label_space:
        raise RibError(f"dataset '{label}' is labelled in '{class_map.label_space}', but the backbone predicts "
                       f"'{backbone.label_space}'. Pair ImageNet datasets with ImageNet-1k backbones.")
