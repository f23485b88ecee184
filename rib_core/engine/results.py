"""The run model: a results directory read back as one suite's run, the one thing every output reads.

`load_results` gives, for one suite, every cell of its plan with its state (done; failed, with its error's first
line; not run because a cell it depends on failed; in progress; pending), its seed and the evaluation mode, and
the evaluations that are done, with their per-sample predictions. `rib report` (text, JSON, CSV, figures, every
plugin format), `rib status` and the metrics all read it; none re-derives what a run is. It never runs a model.

One Results holds one suite (a directory with several suites is reported suite by suite). A post-evaluation is
paired with the pre-evaluation its plan names (`pre_key`: same model, same dataset fingerprint, i.e. the same
image list), never by label. Predictions are read when used and not kept, so a report holds one or two
evaluations' predictions at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rib_core.data.accuracy import group_weights
from rib_core.engine.cell_states import CellStatus, cell_statuses
from rib_core.engine.store import Store
from rib_core.errors import RibError, UsageError


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
    _pred: dict | None = None  # predictions given up front (tests); stored ones are read on each use
    pre_key: str | None = None  # post-evaluations: the key of the pre-evaluation of the same images

    @property
    def predictions(self) -> dict:
        """numpy arrays: positions, labels, top_idx (N,k), top_prob (N,k), group_index[, cluster_index].

        Read from disk on every access and not kept: hold on to the dict only as long as you need it.
        """
        if self._pred is not None:
            return self._pred
        from safetensors.numpy import load_file

        return load_file(str(self.store.cell_dir(self.key) / "predictions.safetensors"))

    def correct_by_position(self) -> dict[int, bool]:
        p = self.predictions
        return dict(zip(p["positions"].tolist(), (p["top_idx"][:, 0] == p["labels"]).tolist()))

    def weights(self, predictions: dict | None = None) -> np.ndarray:
        """Per-image weights of the hierarchical mean over groups (as the runner computes accuracy)."""
        p = self.predictions if predictions is None else predictions
        return group_weights(self.record.get("groups"), p["group_index"], len(p["positions"]))

    def clusters(self, predictions: dict | None = None) -> np.ndarray:
        """Bootstrap cluster id per image: the adapter's (ImageNet-C: the source image), else the image itself."""
        p = self.predictions if predictions is None else predictions
        return np.asarray(p["cluster_index"] if "cluster_index" in p else p["positions"], dtype=np.int64)


@dataclass
class Results:
    datasets: list[str]
    reference: str | None
    models: list[str]
    strategies: list[str]
    evaluations: list[Evaluation] = field(default_factory=list)
    missing: int = 0  # reported evaluation cells without a stored result (failed, not run or pending)

    suite: str | None = None
    eval_images: str | None = None  # the suite's eval_images (None: a run from before it was recorded)
    seeds: list = field(default_factory=list)  # the suite's training seeds
    cells: list[CellStatus] = field(default_factory=list)  # every cell of the plan, with its state
    suite_table: dict | None = None  # the suite as run (rib_core.config.suite_table), when recorded
    superseded: list[dict] = field(default_factory=list)  # earlier plans of the suite: {"file", "cells"}
    run_info: dict = field(default_factory=dict)  # the manifest's command, planned_at and fingerprints
    source_overlap: dict | None = None  # rib_core.data.source_overlap's measure, recorded at planning
    _index: dict | None = None
    _indexed: int = -1

    @property
    def failures(self) -> list[CellStatus]:
        """Cells that failed (fine-tunes and evaluations alike), in plan order."""
        return [c for c in self.cells if c.state == "failed"]

    def count(self, state: str) -> int:
        return sum(c.state == state for c in self.cells)

    def _lookup(self) -> dict:
        if self._index is None or self._indexed != len(self.evaluations):
            self._index = {}
            for e in self.evaluations:
                self._index.setdefault((e.model, e.strategy, e.ft_dataset, e.eval_dataset), e)
                self._index.setdefault(e.key, e)
            self._indexed = len(self.evaluations)
        return self._index

    def find(self, model: str, strategy: str | None, ft_dataset: str | None, eval_dataset: str) -> Evaluation | None:
        return self._lookup().get((model, strategy, ft_dataset, eval_dataset))

    def pretrained(self, model: str, dataset: str) -> Evaluation | None:
        return self.find(model, None, None, dataset)

    def pre_for(self, post: Evaluation) -> Evaluation | None:
        """The pre-evaluation to pair `post` with: the one its plan names; by label only for old manifests."""
        if post.pre_key:
            return self._lookup().get(post.pre_key)
        return self.pretrained(post.model, post.eval_dataset)


def suites_in(root: Path) -> list[str]:
    """The suites with a run manifest in a results directory, in name order."""
    return [r.get("suite") for r in Store(root).runs()]


def load_results(root: Path, suite: str | None = None, plan: Path | None = None) -> Results:
    """The run model of one suite. Without `suite`, the directory must hold exactly one. `plan`: a superseded
    plan of the suite (runs/superseded/...) to read instead of its latest one."""
    store = Store(root)
    runs = [store.read_manifest(Path(plan))] if plan is not None else store.runs()
    if suite is not None:
        runs = [r for r in runs if r.get("suite") == suite]
    if not runs:
        raise UsageError(f"no results in '{root}'" + (f" for suite '{suite}'" if suite else "") +
                         ". Run 'rib bench --out DIR' first, or point 'rib report' at the directory it wrote.")
    if len({r.get("suite") for r in runs}) > 1:
        raise RibError(f"'{root}' holds several suites ({', '.join(r.get('suite') for r in runs)}); "
                       "report one with --suite NAME.")
    first = runs[0]
    results = Results(datasets=list(first["datasets"]), reference=first.get("reference"), models=[], strategies=[],
                      suite=first.get("suite"), eval_images=first.get("eval_images"), seeds=list(first.get("seeds") or []),
                      suite_table=first.get("suite_table"), source_overlap=first.get("source_overlap"),
                      run_info={k: first[k] for k in ("command", "planned_at", "fingerprints", "source") if k in first})
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
        statuses = cell_statuses(store, run["cells"])
        results.cells.extend(statuses)
        for cell, status in zip(run["cells"], statuses):
            if cell["kind"] != "eval" or cell["key"] in seen or not cell.get("reported", True):
                continue
            seen.add(cell["key"])
            record = status.record
            if record is None:
                results.missing += 1
                continue
            results.evaluations.append(Evaluation(
                model=cell["model"], strategy=cell["strategy"], ft_dataset=cell["ft_dataset"],
                eval_dataset=cell["eval_dataset"], subset=cell["subset"], accuracy=record["accuracy"],
                n_images=record["n_images"], record=record, store=store, key=cell["key"],
                pre_key=cell.get("pre_key"), seed=cell.get("seed")))
    if plan is None and results.suite:
        results.superseded = store.superseded(results.suite, {c.key for c in results.cells})
    return results
