"""The prepared grid's types: datasets listed and split, models fingerprinted, strategies built, and cells.

rib_core/engine/prepare.py makes them from a suite; rib_core/engine/plan.py lays out the cells.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from rib_core.engine.subsets import Subsets
from rib_core.suite import DatasetSpec, ModelSpec, StrategySpec, Suite
from rib_core.training import TrainSettings

# Bump when a change in rib alters evaluation or training results (it invalidates stored cells).
RESULTS_VERSION = 2  # 2: timm-exact resize/crop geometry, fp32 evaluation by default


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class PreparedDataset:
    spec: DatasetSpec
    adapter: object  # DatasetAdapter instance
    samples: tuple  # the Samples, after max_images
    ft_positions: np.ndarray  # positions of the fine-tuning part (read-only)
    held_out_positions: np.ndarray  # (read-only)
    fingerprint: str  # adapter identity + image list + labels
    subsets: Subsets  # which images each use takes (rib_core/engine/subsets.py)
    problem: str | None = None  # why it cannot be used (missing / failed check)
    split: float = 0.8

    def __post_init__(self):
        for positions in (self.ft_positions, self.held_out_positions):
            positions.flags.writeable = False

    @property
    def ft_subset(self) -> str:
        """What fine-tunes on it train on."""
        return self.subsets.ft

    @property
    def own_subset(self) -> str:
        """The held-out part that fine-tunes on this dataset are evaluated on."""
        return self.subsets.own

    @property
    def eval_subset(self) -> str:
        """What fine-tunes on the other datasets are evaluated on."""
        return self.subsets.eval

    @property
    def anchor_subset(self) -> str:
        """For the reference set: what EWC's Fisher anchor uses."""
        return self.subsets.anchor

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
        if subset.endswith("-sources") and self.subsets.ft != "ft-sources":
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
