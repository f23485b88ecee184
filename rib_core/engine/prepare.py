"""From a validated suite to the prepared grid: adapters opened, images listed, capped and split, models
fingerprinted (weights file, plugin identity, offline availability, label space), strategies built.

Nothing here loads a model or reads an image's pixels; every problem found is collected, so a dry run lists
them all and a real run refuses to start (rib_core/engine/suite.py).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from rib_core.config import DatasetSpec, ModelSpec, Suite
from rib_core.engine.compat import incompatible_pairs
from rib_core.engine.prepared import Prepared, PreparedDataset, PreparedModel, PreparedStrategy, digest
from rib_core.errors import DataError, RibError
from rib_core.models.base import registered_label_space


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
    from rib_core.data.locate import check_data_root, open_adapter
    from rib_core.data.source_split import shared_sources, split_by_source
    from rib_core.data.splits import cap_samples, split_indices
    from rib_core.models.base import file_digest

    settings = suite.training
    check_data_root(suite.data_root, suite.datasets + ([suite.reference] if suite.reference else []),
                    registry)
    problems: list[str] = []
    warnings: list[str] = []

    def prepare_dataset(spec: DatasetSpec) -> PreparedDataset:
        reg = registry.get("datasets", spec.adapter)
        try:
            return _prepare_dataset(spec, reg)
        except RibError:
            raise
        except Exception as exc:  # a bug in a dataset plugin: a problem line naming it, like missing data
            problems.append(f"dataset '{spec.label}': plugin '{reg.plugin}' failed in its adapter "
                            f"'{reg.target}': {type(exc).__name__}: {exc}")
            empty = np.zeros(0, dtype=np.int64)
            return PreparedDataset(spec, None, [], empty, empty, digest({"failed": spec.label}), problems[-1],
                                   suite.split)

    def _prepare_dataset(spec: DatasetSpec, reg) -> PreparedDataset:
        cls = reg.load()
        adapter = open_adapter(cls, spec.label, dict(spec.options, adapter=spec.adapter), suite.data_root,
                               spec.path)
        looked = adapter.looked_in
        problem = None
        samples: list = []
        # Adapters without conventional folders find (or generate) their data themselves, like the demo's.
        self_locating = not cls.folder_names and not spec.path
        if adapter.root is None and not self_locating:
            where = ", ".join(looked) if looked else "nowhere (set data_root or RIB_DATA_ROOT, or a path)"
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
        if problem:
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
            "samples": hashlib.sha256("\n".join(f"{s.path}\t{s.label}\t{s.group}" for s in samples).encode()).hexdigest(),
            "class_map": adapter.class_map().digest() if samples else None,
        })
        prepared_ds = PreparedDataset(spec, adapter, samples, np.asarray(ft), np.asarray(held), fingerprint,
                                      problem, suite.split)
        if by_source:
            prepared_ds.ft_subset = "ft-sources"
            prepared_ds.eval_subset = prepared_ds.anchor_subset = None  # set below: they differ for the reference
        elif suite.eval_images == "held-out":
            prepared_ds.eval_subset = "held-out"
        return prepared_ds

    datasets = [prepare_dataset(spec) for spec in suite.datasets]
    reference = prepare_dataset(suite.reference) if suite.reference else None
    for ds in datasets:
        if ds.ft_subset == "ft-sources":
            ds.eval_subset, ds.anchor_subset = "held-out-sources", "all"
    if reference is not None:
        # The reference set is evaluated after every fine-tune on all its images, except under
        # "held-out-sources": then on its held-out part, and EWC's anchor uses the fine-tuning part, so that the
        # anchor and the evaluated reference images are disjoint (by source image when it shares sources).
        if suite.eval_images == "held-out-sources":
            reference.eval_subset, reference.anchor_subset = reference.own_subset, reference.ft_subset
        else:
            reference.eval_subset, reference.anchor_subset = "all", "all"

    models = []
    label_spaces = {ds.adapter.class_map().label_space for ds in datasets + [reference]
                    if ds is not None and ds.adapter is not None and ds.samples}
    for spec in suite.models:
        weights_digest = None
        if spec.weights:
            try:
                weights_digest = file_digest(spec.weights)
            except OSError:
                problems.append(f"model '{spec.label}': weights file '{spec.weights}' does not exist.")
        elif check_weights or hub_offline():
            missing = weights_problem(registry, spec)
            if missing:
                problems.append(missing)
        space = registered_label_space(registry.get("models", spec.name))
        for other in sorted(label_spaces - {space}):
            users = [ds.label for ds in datasets + [reference] if ds is not None and ds.adapter is not None
                     and ds.samples and ds.adapter.class_map().label_space == other]
            problems.append(f"model '{spec.label}' predicts the label space '{space}', but dataset(s) "
                            f"{', '.join(users)} are labelled in '{other}': pair each model with datasets of its "
                            f"label space (a plugin declares its model's with register(..., label_space=...)).")
        fingerprint = {"name": spec.name, "weights": weights_digest, "options": spec.options}
        identity = weights_identity(registry, spec)
        if identity is not None:  # only then: keys of models without the hook stay what they were
            fingerprint["identity"] = identity
        models.append(PreparedModel(spec, digest(fingerprint)))

    strategies = []
    for spec in suite.strategies:
        reg = registry.get("strategies", spec.name)
        strategies.append(PreparedStrategy(spec, reg.create(spec.params), reg.plugin))
    problems += incompatible_pairs(registry, suite.models, strategies)  # each strategy's check(model) (compat.py)
    return Prepared(suite, settings, models, datasets, reference, strategies, registry, problems, warnings)
