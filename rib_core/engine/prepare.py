"""From a validated suite to the prepared grid: adapters opened, images listed, capped and split, models
fingerprinted (weights file, plugin identity, offline availability, label space), strategies built.

Nothing here loads a model or reads an image's pixels; every problem found is collected (a missing data root
included), so a dry run lists them all and exits 0, and a real run refuses to start with the same list.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from rib_core.engine.compat import incompatible_pairs
from rib_core.engine.prepared import Prepared, PreparedDataset, PreparedModel, PreparedStrategy, digest
from rib_core.errors import DataError, RibError
from rib_core.engine.subsets import subsets_for
from rib_core.models.base import label_space_problems, unkeyed_models
from rib_core.suite import DatasetSpec, ModelSpec, Suite


def weights_problem(registry, spec: ModelSpec) -> str | None:
    """What a backbone plugin says is missing to load `spec` offline (its optional `weights_status` hook)."""
    status = registry.get("models", spec.name).load_extra("weights_status")
    message = status(spec.name, weights=spec.weights, options=dict(spec.options)) if status else None
    if not message:
        return None
    message = message.strip()
    # The plugin's line says what is missing; name the model once, whether or not the plugin already did.
    for prefix in (f"'{spec.label}': ", f"'{spec.name}': "):
        message = message.removeprefix(prefix)
    return f"model '{spec.label}': {message}"


def weights_identity(registry, spec: ModelSpec) -> str | None:
    """The plugin's own identity of the weights it will load (its optional `identity` hook): it enters every key
    that depends on the model, so weights a plugin manages itself are re-evaluated when they change."""
    identity = registry.get("models", spec.name).load_extra("identity")
    return str(identity(spec.name, weights=spec.weights, options=dict(spec.options))) if identity else None


def hub_offline() -> bool:
    """True when model hubs must not be reached: missing weights then fail every cell, so a run refuses to start."""
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")


def prepare(suite: Suite, registry, check_weights: bool = False) -> Prepared:
    """Resolve names, instantiate adapters and strategies, list images and split them. No model is loaded.

    With `check_weights` (dry runs), ask each backbone plugin whether its weights are available offline.
    """
    from rib_core.data.locate import data_root_problem, open_adapter
    from rib_core.data.names import name_bytes  # names that are not UTF-8 (rib_core/data/names.py)
    from rib_core.data.source_split import shared_sources, split_by_source
    from rib_core.data.splits import cap_samples, split_indices
    from rib_core.engine.overlap import check_overlap
    from rib_core.engine.preflight import check_cache_dir, weights_file_problem
    from rib_core.models.base import file_digest
    from rib_core.models.digests import fetching

    settings = suite.training
    check_cache_dir()  # a file there would fail every cell (rib_core/engine/preflight.py)
    problems: list[str] = []
    warnings: list[str] = []
    root_problem = data_root_problem(suite.data_root, suite.eval_sets, registry)
    if root_problem:
        problems.append(root_problem)

    def prepare_dataset(spec: DatasetSpec, is_reference: bool = False) -> PreparedDataset:
        reg = registry.get("datasets", spec.adapter)
        try:
            return _prepare_dataset(spec, reg, is_reference)
        except RibError:
            raise
        except Exception as exc:  # a bug in a dataset plugin: a problem line naming it, like missing data
            problems.append(f"dataset '{spec.label}': plugin '{reg.plugin}' failed in its adapter "
                            f"'{reg.target}': {type(exc).__name__}: {exc}")
            empty = np.zeros(0, dtype=np.int64)
            return PreparedDataset(spec, None, (), empty, empty, digest({"failed": spec.label}),
                                   subsets_for(suite.eval_images, False, is_reference), problems[-1], suite.split)

    def _prepare_dataset(spec: DatasetSpec, reg, is_reference: bool) -> PreparedDataset:
        cls = reg.load()
        adapter = open_adapter(cls, spec.label, dict(spec.options, adapter=spec.adapter), suite.data_root,
                               spec.path)
        looked = adapter.looked_in
        problem = None
        samples: list = []
        # Adapters without conventional folders find (or generate) their data themselves, like the demo's.
        self_locating = not cls.folder_names and not spec.path
        if adapter.root is None and not self_locating:
            where = ", ".join(looked) if looked else "nowhere (set --data-root, data_root or RIB_DATA_ROOT, or a path)"
            problem = (f"dataset '{spec.label}' not found; looked in: {where}. "
                       f"{getattr(cls, 'source_hint', '')}".strip())
        else:
            try:
                samples = adapter.samples()
            except DataError as exc:
                problem = f"dataset '{spec.label}': {exc}"
            except OSError as exc:
                problem = f"dataset '{spec.label}': cannot read {adapter.root}: {exc}"
            if problem is None and not samples:
                problem = f"dataset '{spec.label}' at {adapter.root} holds no images."
        if problem is None and not suite.allow_partial:
            check = adapter.check(deep=False)  # counts and classes; unreadable images are skipped and counted later
            if not check.ok:
                detail = "; ".join(check.problems) or check.verdict
                problem = (f"dataset '{spec.label}' failed its check ({detail}). Run 'rib datasets check' for "
                           "details, fix the data, or set allow_partial = true in the suite.")
        if problem and (adapter.root is None or not samples):
            hint = cls.misplaced_hint(suite.data_root, adapter.root)
            problem = f"{problem}\n  {hint}" if hint else problem
        under_missing_root = (root_problem and adapter.root is None and cls.folder_names
                              and not (spec.path and Path(spec.path).expanduser().is_absolute()))
        if problem and not under_missing_root:  # the data root's own line says it for every dataset under it
            problems.append(problem)
        if spec.max_images and samples:
            samples = cap_samples(samples, spec.max_images, suite.seed)
        by_source = suite.eval_images == "held-out-sources" and shared_sources(adapter) is not None
        if samples and by_source:
            try:
                ft, held = split_by_source(samples, suite.split, suite.seed, spec.label)
            except DataError as exc:
                problems.append(str(exc))
                problem = problem or str(exc)
                ft = held = np.zeros(0, dtype=np.int64)
            if problem is None and (len(ft) == 0 or len(held) == 0):
                warnings.append(f"dataset '{spec.label}': split by source image, its {len(samples)} images leave "
                                f"{len(ft)} to fine-tune on and {len(held)} held out.")
        elif samples:
            ft, held = split_indices(samples, suite.split, suite.seed)
            if spec.max_images and len(held) == 0:
                warnings.append(f"dataset '{spec.label}': max_images = {spec.max_images} leaves no held-out image "
                                f"(one image or fewer per class), so its own column shows nan. Raise max_images "
                                "above twice its class count.")
        else:
            ft = held = np.zeros(0, dtype=np.int64)
        fingerprint = digest({
            "adapter": adapter.identity(), "label": spec.label,
            "samples": hashlib.sha256(name_bytes("\n".join(f"{s.path}\t{s.label}\t{s.group}"
                                                            for s in samples))).hexdigest(),
            "class_map": adapter.class_map().digest() if samples else None,
        })
        return PreparedDataset(spec, adapter, tuple(samples), np.asarray(ft, dtype=np.int64),
                               np.asarray(held, dtype=np.int64), fingerprint,
                               subsets_for(suite.eval_images, by_source, is_reference), problem, suite.split)

    datasets = [prepare_dataset(spec) for spec in suite.datasets]
    reference = prepare_dataset(suite.reference, is_reference=True) if suite.reference else None

    check_overlap(datasets + [reference], suite.allow_overlap, problems, warnings)  # rib_core/engine/overlap.py
    models = []
    spaces = [(ds.label, ds.adapter.class_map().label_space) for ds in datasets + [reference]
              if ds is not None and ds.adapter is not None and ds.samples]
    for spec in suite.models:
        weights_digest = None
        if spec.weights:
            try:
                weights_digest = file_digest(spec.weights)
            except OSError:
                problems.append(f"model '{spec.label}': weights file '{spec.weights}' does not exist.")
            else:
                problems += filter(None, [weights_file_problem(spec.label, spec.weights)])  # preflight.py
        elif check_weights or hub_offline():
            missing = weights_problem(registry, spec)
            if missing:
                problems.append(missing)
        problems += label_space_problems(registry.get("models", spec.name), spec.label, spaces)
        fingerprint = {"name": spec.name, "weights": weights_digest, "options": spec.options}
        with fetching(allowed=not check_weights):  # a dry run neither pretrains nor downloads (models/digests.py)
            identity = weights_identity(registry, spec)
        if identity is not None:  # only then: keys of models without the hook stay what they were
            fingerprint["identity"] = identity
        models.append(PreparedModel(spec, digest(fingerprint)))

    warnings += unkeyed_models(registry, suite.models)  # results that would outlive a change of weights

    strategies = []
    for spec in suite.strategies:
        reg = registry.get("strategies", spec.name)
        strategies.append(PreparedStrategy(spec, reg.create(spec.params), reg.plugin))
    problems += incompatible_pairs(registry, suite.models, strategies)  # each strategy's check(model) (compat.py)
    return Prepared(suite, settings, models, datasets, reference, strategies, registry, problems, warnings)
