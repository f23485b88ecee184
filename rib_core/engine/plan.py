"""From a validated suite to the grid of cells, each with a key that names everything that determines it.

Cells:
- pre-evaluation  Eval(model, D_j) on every image of D_j, once per (model, D_j); every strategy reuses it.
- fine-tune       FineTune(model, strategy, D_i) on D_i's fine-tuning part.
- post-evaluation Eval(fine-tuned variant, D_j) for every D_j (j != i: all images, or held-out with
                  eval_images = "held-out"), D_i's held-out part, and the reference set.
With eval_images = "held-out-sources", datasets made from the same source images (rib_core/data/source_split.py)
are split by source image, one split for all of them: their fine-tuning part is "ft-sources", their held-out part
"held-out-sources", and every post-evaluation of them (and of the reference set) uses only the held-out sources;
EWC's anchor is the reference's "ft-sources" part, disjoint from its evaluated images.
Same key => same result => reused. A changed hyper-parameter changes only the keys it flows into.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from rib_core.config import DatasetSpec, ModelSpec, StrategySpec, Suite, data_root
from rib_core.engine.order import order_cells, run_manifest  # noqa: F401 (part of this module's interface)
from rib_core.engine.soup_plan import ingredient_deps
from rib_core.errors import DataError, RibError
from rib_core.training import TrainSettings
from rib_core.models.base import IMAGENET_1K

# Bump when a change in rib alters evaluation or training results (it invalidates stored cells).
RESULTS_VERSION = 2  # 2: timm-exact resize/crop geometry, fp32 evaluation by default


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class PreparedDataset:
    spec: DatasetSpec
    adapter: object  # DatasetAdapter instance
    samples: list  # list[Sample] after max_images
    ft_positions: np.ndarray  # positions of the fine-tuning part
    held_out_positions: np.ndarray
    fingerprint: str  # adapter identity + image list + labels
    problem: str | None = None  # why it cannot be used (missing / failed check)
    split: float = 0.8
    # Subset names (see `positions`). ft_subset: what fine-tunes on it train on ("ft-sources" when it is split
    # by source image); eval_subset: what other datasets' fine-tunes are evaluated on; anchor_subset: what EWC's
    # Fisher anchor uses when it is the reference set.
    ft_subset: str = "ft"
    eval_subset: str = "all"
    anchor_subset: str = "all"

    @property
    def own_subset(self) -> str:
        """The held-out part that fine-tunes on this dataset are evaluated on."""
        return "held-out-sources" if self.ft_subset == "ft-sources" else "held-out"

    @property
    def label(self) -> str:
        return self.spec.label

    def size(self, subset: str) -> int:
        """Images in a subset; for a dataset not on disk, estimated from its published size (dry runs)."""
        if self.samples:
            return len(self.positions(subset))
        expected = getattr(self.adapter, "expected_images", None) or 0
        if self.spec.max_images:
            expected = min(expected, self.spec.max_images)
        ft = round(expected * self.split)
        return {"all": expected, "ft": ft, "held-out": expected - ft, "ft-sources": ft,
                "held-out-sources": expected - ft}[subset]

    def positions(self, subset: str) -> np.ndarray:
        """"all", or the fine-tuning / held-out part: "ft" / "held-out" (stratified by class), "ft-sources" /
        "held-out-sources" (by source image; only for a dataset split that way, whose parts they then are)."""
        if subset == "all":
            return np.arange(len(self.samples))
        if subset.endswith("-sources") and self.ft_subset != "ft-sources":
            raise ValueError(f"dataset '{self.label}' is not split by source image: no subset '{subset}'")
        return {"held-out": self.held_out_positions, "ft": self.ft_positions,
                "held-out-sources": self.held_out_positions, "ft-sources": self.ft_positions}[subset]


@dataclass
class PreparedModel:
    spec: ModelSpec
    fingerprint: str

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass
class PreparedStrategy:
    spec: StrategySpec
    strategy: object  # Strategy instance
    plugin: str

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass
class Cell:
    kind: str  # "eval" | "finetune"
    key: str
    model: str
    strategy: str | None = None  # reported strategy label (with variant), None for the pretrained model
    ft_dataset: str | None = None
    eval_dataset: str | None = None
    variant: str = ""
    subset: str = "all"  # which images of eval_dataset
    deps: tuple[str, ...] = ()
    work: int = 0  # image forwards (eval) or optimizer steps (finetune)
    strategy_name: str | None = None  # the registered strategy that trains (finetune cells and their evals)
    finetune_key: str | None = None  # for post-evaluations: the fine-tune whose weights are evaluated
    reported: bool = True  # False for stages that exist only as a dependency (lp of lp-ft)
    pre_key: str | None = None  # post-evaluations: the pre-evaluation of the same model on the same images
    seed: int | None = None  # training seed of a fine-tune and of its evaluations; None for pre-evaluations

    def describe(self) -> str:
        if self.kind == "finetune":
            return f"fine-tune {self.model} / {self.strategy} on {self.ft_dataset}"
        who = self.model if self.strategy is None else f"{self.model} / {self.strategy} ft {self.ft_dataset}"
        return f"evaluate {who} on {self.eval_dataset} ({self.subset})"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Prepared:
    suite: Suite
    settings: TrainSettings
    models: list[PreparedModel]
    datasets: list[PreparedDataset]
    reference: PreparedDataset | None
    strategies: list[PreparedStrategy]
    registry: object
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # runs, but the user should know (shown before any work)

    def dataset(self, label: str) -> PreparedDataset:
        for d in self.datasets + ([self.reference] if self.reference else []):
            if d.label == label:
                return d
        raise KeyError(label)


def variant_label(strategy_label: str, variant: str) -> str:
    return f"{strategy_label}[{variant}]" if variant else strategy_label


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
    from rib_core.data.locate import check_data_root, resolve_root
    from rib_core.data.source_split import shared_sources, split_by_source
    from rib_core.data.splits import cap_samples, split_indices
    from rib_core.models.base import file_digest
    settings = suite.training
    check_data_root(data_root(suite), suite.datasets + ([suite.reference] if suite.reference else []),
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
        options = dict(spec.options, adapter=spec.adapter)
        root, looked = (None, [])
        if cls.folder_names or spec.path:
            root, looked = resolve_root(cls, spec.label, data_root(suite), spec.path)
        adapter = cls(spec.label, root, options)
        adapter.looked_in = looked
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
            hint = cls.misplaced_hint(data_root(suite), adapter.root)
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
        space = registry.get("models", spec.name).extra.get("label_space", IMAGENET_1K)
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
        cls = reg.load()
        strategies.append(PreparedStrategy(spec, cls(spec.params), reg.plugin))
    return Prepared(suite, settings, models, datasets, reference, strategies, registry, problems, warnings)


def finetune_key(prepared: Prepared, model: PreparedModel, strategy_name: str, strategy, ds: PreparedDataset,
                 init_key: str | None, seed: int) -> str:
    from dataclasses import asdict

    return digest({
        "kind": "finetune", "v": RESULTS_VERSION, "model": model.fingerprint, "strategy": strategy_name,
        "strategy_version": getattr(strategy, "version", 1), "params": strategy.params,
        "settings": asdict(prepared.settings), "dataset": ds.fingerprint,
        "split": [prepared.suite.split, prepared.suite.seed], "seed": seed, "init": init_key,
        # Strategies may use the reference set (EWC's Fisher anchor), so it is part of every fine-tune's key.
        "reference": prepared.reference.fingerprint if prepared.reference is not None else None,
    } | _split_keys(prepared, ds))


def _split_keys(prepared: Prepared, ds: PreparedDataset) -> dict:
    """What eval_images = "held-out-sources" changes in a fine-tune: its images, the anchor's. Only present when
    they differ from the other modes', so those modes' keys stay what they were."""
    extra = {}
    if ds.ft_subset != "ft":
        extra["ft_subset"] = ds.ft_subset
    if prepared.reference is not None and prepared.reference.anchor_subset != "all":
        extra["anchor_subset"] = prepared.reference.anchor_subset
    return extra


def eval_key(source: str, ds: PreparedDataset, subset: str, split: list, precision: str = "fp32") -> str:
    return digest({"kind": "eval", "v": RESULTS_VERSION, "source": source, "dataset": ds.fingerprint,
                   "subset": subset, "split": split if subset != "all" else None, "precision": precision})


def build_plan(prepared: Prepared) -> list[Cell]:
    """Every cell of the suite in a valid execution order (dependencies first), without duplicates."""
    from rib_core.engine.train import count_steps

    suite, settings = prepared.suite, prepared.settings
    split = [suite.split, suite.seed]
    cells: dict[str, Cell] = {}

    def add(cell: Cell) -> Cell:
        if cell.key in cells:
            existing = cells[cell.key]
            existing.reported = existing.reported or cell.reported
            return existing
        cells[cell.key] = cell
        return cell

    eval_sets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    for model in prepared.models:
        pre_source = digest({"pretrained": model.fingerprint})
        pre_keys = {ds.label: eval_key(pre_source, ds, "all", split, suite.eval_precision) for ds in eval_sets}
        for ds in eval_sets:
            add(Cell("eval", pre_keys[ds.label], model.label, eval_dataset=ds.label, subset="all",
                     work=ds.size("all")))

        def add_finetune(name: str, strategy, label: str, ds: PreparedDataset, reported: bool, seed: int) -> Cell:
            init_key, deps = None, ()
            if getattr(strategy, "ingredients", None):  # a soup: after the fine-tunes it averages
                used, deps = ingredient_deps(strategy, label, prepared, lambda o, d: add_finetune(
                    o.spec.name, o.strategy, o.label, d, reported=True, seed=seed), ds)
                init_key = digest(used)
            elif strategy.init_from:
                stage_cls = prepared.registry.get("strategies", strategy.init_from).load()
                stage = add_finetune(strategy.init_from, stage_cls(), strategy.init_from, ds, reported=False,
                                     seed=seed)
                init_key, deps = stage.key, (stage.key,)
            # The seed is in the key: adding a seed to `seeds` runs only that seed's cells.
            key = finetune_key(prepared, model, name, strategy, ds, init_key, seed)
            batches = -(-ds.size("ft") // settings.batch_size)
            steps = count_steps(settings, batches) if strategy.trains else 0
            return add(Cell("finetune", key, model.label, strategy=label, ft_dataset=ds.label, deps=deps,
                            work=steps, strategy_name=name, reported=reported, seed=seed))

        for ps, ds_i, seed in ((ps, d, s) for ps in prepared.strategies for d in prepared.datasets
                               for s in suite.training_seeds):
            ft = add_finetune(ps.spec.name, ps.strategy, ps.label, ds_i, reported=True, seed=seed)
            for variant in ps.strategy.variant_labels():
                source = digest({"finetune": ft.key, "variant": variant})
                for ds_j in eval_sets:
                    subset = ds_j.own_subset if ds_j is ds_i else ds_j.eval_subset
                    add(Cell("eval", eval_key(source, ds_j, subset, split, suite.eval_precision), model.label,
                             strategy=variant_label(ps.label, variant), ft_dataset=ds_i.label,
                             eval_dataset=ds_j.label, variant=variant, subset=subset, deps=(ft.key,),
                             work=ds_j.size(subset), strategy_name=ps.spec.name,
                             finetune_key=ft.key, pre_key=pre_keys[ds_j.label], seed=seed))
    return order_cells(list(cells.values()))
