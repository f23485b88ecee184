"""A suite as rib holds it: one immutable value, each key declared once, on the field it fills.

`rib_core/config.py` reads a suite file into a `Suite` (once: `--weights`, `--data-root` and the installed
plugins are applied while it is built, never afterwards) and writes it back as a table (`suite_table`) for the run
manifest, from which launcher jobs rebuild exactly the suite that was launched. docs/suites.md is generated from
these declarations (rib_core/suite_docs.py), and the validation reads them too, so the three cannot disagree.

Adding a suite key is one field here. Options of one dataset adapter, model loader or strategy are declared by
that adapter, loader or strategy, not here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

from rib_core.options import Option
from rib_core.training import TrainSettings

CACHE_VALUES = (True, False, "auto")  # decoded-image cache; "auto": rib_core.data.base.use_cache
EVAL_IMAGES = ("all", "held-out", "held-out-sources")  # rib_core/engine/subsets.py; docs/protocol.md
ENTRY_KINDS = ("models", "datasets", "reference", "strategies", "training")  # keys parsed into their own values


class FrozenDict(dict):
    """An entry's own options: a dict everywhere a dict is read (json, `dict(...)`, `**`), but never changed."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a suite's options cannot be changed; build a new suite instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self):  # pickled (launcher jobs) as the plain dict it is
        return FrozenDict, (dict(self),)

    def __hash__(self):
        return hash(tuple(sorted(self.items(), key=repr)))


def key(option: Option, default=None) -> dataclasses.Field:
    """A suite field that a suite file sets under the field's name, declared by `option`."""
    return field(default=default, metadata={"option": option})


def declared_keys(cls) -> dict[str, Option]:
    """{key: Option} of the fields of `cls` that a suite file may set, in field order."""
    return {f.name: f.metadata["option"] for f in dataclasses.fields(cls) if "option" in f.metadata}


@dataclass(frozen=True)
class ModelSpec:
    label: str  # how the report names it
    name: str  # registered backbone name, e.g. "timm:vit_base_patch16_224.augreg_in1k"
    weights: str | None = None  # a local weights file, as an absolute path
    options: Mapping = field(default_factory=FrozenDict)  # the loader's own options


@dataclass(frozen=True)
class DatasetSpec:
    label: str  # how the suite and report name it
    adapter: str  # registered dataset name
    path: str | None = None  # its folder, as the suite gives it (rib_core/data/locate.py resolves it)
    max_images: int | None = None
    options: Mapping = field(default_factory=FrozenDict)  # the adapter's own options
    cache: bool | str | None = None  # decoded-image cache: True | False | "auto"; None: the suite's `cache`


@dataclass(frozen=True)
class StrategySpec:
    label: str
    name: str
    params: Mapping = field(default_factory=FrozenDict)  # the strategy's own parameters
    optional: bool = False


@dataclass(frozen=True)
class Suite:
    name: str = ""
    source: str = ""  # the file it came from (or the run manifest it was rebuilt from)
    description: str = key(Option(str, help="one line shown by `rib list suites` and in reports"), "")
    models: tuple[ModelSpec, ...] = key(Option(list, help="backbones: names (\"timm:vit_base_patch16_224.augreg_in1k\") "
                                               "or tables { name, label, weights, <loader options> }"), ())
    datasets: tuple[DatasetSpec, ...] = key(Option(list, help="the downstream datasets D_i (at least 2): names or "
                                                   "tables { name, label, adapter, path, max_images, cache, "
                                                   "<adapter options> }"), ())
    reference: DatasetSpec | None = key(Option((str, dict), help="the in-distribution reference set (ImageNet-1k "
                                               "val), evaluated before and after every fine-tune; also EWC's "
                                               "Fisher anchor"))
    strategies: tuple[StrategySpec, ...] = key(Option(list, help="fine-tuning strategies: names or tables { name, "
                                                      "label, optional, <parameters> }"), ())
    training: TrainSettings = key(Option(dict, help="the [training] table (below)"), TrainSettings())
    seed: int = key(Option(int, minimum=0, help="seed of the split, image caps and (unless `seeds` is set) "
                                                "training"), 0)
    seeds: tuple[int, ...] | None = key(Option(list, items=int, minimum=0, help="training seeds: every fine-tune "
                                               "runs once per seed, and reports give intervals over them"))
    split: float = key(Option(float, help="fraction (between 0 and 1) of each D_i fine-tuned on; the rest is its "
                                          "held-out part"), 0.8)
    eval_images: str = key(Option(str, choices=EVAL_IMAGES, help="which images of D_j (j != i) the fine-tuned "
                                  "model is evaluated on: \"all\", only the \"held-out\" parts, or "
                                  "\"held-out-sources\": datasets that share source images (ImageNet-C, -Cartoon, "
                                  "-Drawing, val) only on sources held out from every fine-tune (docs/protocol.md)"),
                           "all")
    eval_precision: str = key(Option(str, choices=("fp32", "bf16", "fp16"), help="evaluation precision (training: "
                                     "[training] amp)"), "fp32")
    data_root: str | None = key(Option(str, help="folder holding the datasets (default: $RIB_DATA_ROOT; "
                                       "`--data-root` overrides both)"))
    cache: bool | str = key(Option((bool, str), choices=CACHE_VALUES, help="decoded-image cache for every dataset "
                                   "that does not say otherwise; \"auto\": when its images are larger than the "
                                   "model's input"), "auto")
    allow_partial: bool = key(Option(bool, help="run on datasets that fail their completeness check"), False)
    allow_overlap: bool = key(Option(bool, help="run although two datasets (or a dataset and the reference) hold the "
                                     "same image files (RI would measure memorised images); by default that is "
                                     "refused before any work"), False)
    strict_images: bool = key(Option(bool, help="stop at the first unreadable image instead of skipping and "
                                                "counting it"), False)
    eval_batch_size: int = key(Option(int, minimum=1, help="images per evaluation batch (halved on "
                                                           "out-of-memory)"), 256)
    metrics: tuple[str, ...] | None = key(Option(list, items=str, help="metrics to report; unset: every registered "
                                                 "metric. top1, ri and mri are always computed; the summary's Δ ref "
                                                 "and ID gain columns need \"ref-forgetting\" and \"id-gain\" in the "
                                                 "list"))
    cpu_threads: int | None = key(Option(int, minimum=1, help="torch threads on a CPU device; unset: one per core"))
    skipped: tuple[str, ...] = ()  # optional strategies whose plugin is not installed
    source_digest: str | None = None  # digest of the suite's table as its file holds it (rib_core.config)

    @property
    def training_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else [self.seed]

    @property
    def eval_sets(self) -> tuple[DatasetSpec, ...]:
        """The downstream datasets, then the reference set: everything a model is evaluated on."""
        return self.datasets + ((self.reference,) if self.reference is not None else ())


SUITE_KEYS = declared_keys(Suite)
# The keys every entry of a kind may carry, whatever adapter, loader or strategy it names (the rest of an entry's
# keys are its adapter's, loader's or strategy's own options, checked against their declarations).
MODEL_KEYS = {
    "name": Option(str, help="the backbone's registered name"),
    "label": Option(str, help="its name in reports and cache keys (default: the name)"),
    "weights": Option(str, help="a local weights file (safetensors or a state dict) instead of the hub's"),
}
DATASET_KEYS = {
    "name": Option(str, help="the dataset's registered name"),
    "label": Option(str, help="its name in reports (default: the name); two entries of one dataset need two labels"),
    "adapter": Option(str, help="the registered adapter to read it with (default: the name)"),
    "path": Option(str, help="its folder, when not found under data_root"),
    "max_images": Option(int, minimum=1, help="a class-balanced cap on its images (quick runs)"),
    "cache": Option((bool, str), choices=CACHE_VALUES, help="this dataset's decoded-image cache (default: the "
                    "suite's `cache`)"),
}
STRATEGY_KEYS = {
    "name": Option(str, help="the strategy's registered name"),
    "label": Option(str, help="its name in reports (default: the name); two entries of one strategy need two labels"),
    "optional": Option(bool, help="skip it with a warning when its plugin is not installed"),
}
