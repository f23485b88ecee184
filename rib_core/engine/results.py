"""Reading a results directory back: the evaluations of every run manifest in it, with per-sample predictions.

This is what metrics and reports work from; it never runs a model. A directory written by several shards or
several suites merges naturally: cells are found by key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rib_core.engine.evaluate import hierarchical_weights
from rib_core.engine.store import Store
from rib_core.errors import RibError


@dataclass
class Evaluation:
    model: str
    strategy: str | None  # None: the pretrained model
    ft_dataset: str | None
    eval_dataset: str
    subset: str
    accuracy: float  # %
    n_images: int
    record: dict
    store: Store
    key: str
    seed: int | None = None  # training seed (None: pretrained, or a run from before seeds were recorded)
    _pred: dict | None = None

    @property
    def predictions(self) -> dict:
        """numpy arrays: positions, labels, top_idx (N,k), top_prob (N,k), group_index; plus `groups` names."""
        if self._pred is None:
            from safetensors.numpy import load_file

            self._pred = load_file(str(self.store.cell_dir(self.key) / "predictions.safetensors"))
        return self._pred

    def correct_by_position(self) -> dict[int, bool]:
        p = self.predictions
        return dict(zip(p["positions"].tolist(), (p["top_idx"][:, 0] == p["labels"]).tolist()))

    def weights(self) -> np.ndarray:
        groups = [self.record["groups"][i] for i in self.predictions["group_index"]] if self.record.get("groups") else [""] * len(self.predictions["positions"])
        return hierarchical_weights(groups)


@dataclass
class Results:
    datasets: list[str]
    reference: str | None
    models: list[str]
    strategies: list[str]
    evaluations: list[Evaluation] = field(default_factory=list)
    missing: int = 0  # planned evaluation cells without a stored result
    failures: list[dict] = field(default_factory=list)

    def find(self, model: str, strategy: str | None, ft_dataset: str | None, eval_dataset: str) -> Evaluation | None:
        for e in self.evaluations:
            if (e.model, e.strategy, e.ft_dataset, e.eval_dataset) == (model, strategy, ft_dataset, eval_dataset):
                return e
        return None

    def pretrained(self, model: str, dataset: str) -> Evaluation | None:
        return self.find(model, None, None, dataset)


def load_results(root: Path, suite: str | None = None) -> Results:
    store = Store(root)
    runs = store.runs()
    if suite is not None:
        runs = [r for r in runs if r.get("suite") == suite]
    if not runs:
        raise RibError(f"no results in '{root}'" + (f" for suite '{suite}'" if suite else "") +
                       ". Run 'rib bench --out DIR' first, or point 'rib report' at the directory it wrote.")
    first = runs[0]
    results = Results(datasets=list(first["datasets"]), reference=first.get("reference"), models=[], strategies=[])
    seen: set[str] = set()
    for run in runs:
        for m in run["models"]:
            if m not in results.models:
                results.models.append(m)
        for s in run["strategies"]:
            if s not in results.strategies:
                results.strategies.append(s)
        for d in run["datasets"]:
            if d not in results.datasets:
                results.datasets.append(d)
        for cell in run["cells"]:
            if cell["kind"] != "eval" or cell["key"] in seen or not cell.get("reported", True):
                continue
            seen.add(cell["key"])
            record = store.record(cell["key"])
            if record is None:
                results.missing += 1
                failure = store.failure(cell["key"])
                if failure:
                    results.failures.append(failure)
                continue
            results.evaluations.append(Evaluation(
                model=cell["model"], strategy=cell["strategy"], ft_dataset=cell["ft_dataset"],
                eval_dataset=cell["eval_dataset"], subset=cell["subset"], accuracy=record["accuracy"],
                n_images=record["n_images"], record=record, store=store, key=cell["key"],
                seed=cell.get("seed")))
    return results
