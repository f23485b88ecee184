"""RI_i and mRI with paired cluster-bootstrap confidence intervals, from stored per-sample predictions.

RI_i = 1/(N-1) * sum_{j != i} (A_i^(j) - A_pre^(j)), mRI = mean_i RI_i (the project page writes a sum; the
paper's own figures use the mean, and so does rib). A_pre^(j) is taken on exactly the images A_i^(j) used, so
every difference is paired. The interval is a seeded percentile bootstrap (rib_core.metrics.bootstrap) over
D_j's clusters (ImageNet-C: the source image; elsewhere: the image): every replicate resamples each D_j once,
shared by every i, every model and every strategy, and recomputes every difference on that resample. Datasets
that render the same source images (ImageNet-C, -Cartoon, -Drawing) are resampled jointly, by source image, so
that RI_i and mRI see their correlation (rib_core/metrics/bootstrap.py: source_weights).

Memory is bounded by one pre- and one post-evaluation's predictions at a time plus per-cluster sums: each
evaluation is read, reduced to its accuracy difference and its cluster sums, and released.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rib_core.metrics.bootstrap import (CONFIDENCE, REPLICATES, SEED, cluster_sums, dataset_seed, family_seed,
                                        joint_units, percentile_interval, replicate_means, source_weights)

BOOTSTRAP_REPLICATES = REPLICATES
BOOTSTRAP_SEED = SEED


@dataclass
class Robustness:
    model: str
    strategy: str
    datasets: list[str]  # D_i that have a complete row
    diff: dict  # (i, j) -> A_i^(j) - A_pre^(j) in points
    ri: dict  # i -> RI_i
    ri_ci: dict  # i -> (low, high)
    mri: float | None
    mri_ci: tuple | None


def _weighted_acc(correct: np.ndarray, weights: np.ndarray) -> float:
    return float(100.0 * (weights * correct).sum() / weights.sum()) if weights.sum() > 0 else float("nan")


def source_family(evaluation, predictions: dict) -> str | None:
    """The family of source images an evaluation's dataset renders (its record's `source_images`), when its
    predictions carry each image's source (`source_index`): then it is resampled jointly with the family's other
    datasets. None for datasets of their own images, and for results stored before rib recorded sources."""
    family = (evaluation.record or {}).get("source_images")
    return family if family and "source_index" in predictions else None


class PreReference:
    """A pre-evaluation sorted by image position, to pair any post-evaluation of the same images with it.

    `clusters` are the resampling units `pair` hands out: the dataset's own cluster ids (ImageNet-C: the source
    file; elsewhere the image), or, when `family` is set, global source ids (rib_core.metrics.bootstrap
    .joint_units), resampled by `source_weights(family, ...)`.
    """

    def __init__(self, pre):
        pp = pre.predictions
        order = np.argsort(pp["positions"])
        self.positions = pp["positions"][order]
        self.correct = (pp["top_idx"][:, 0] == pp["labels"])[order]
        self.family = source_family(pre, pp)
        if self.family is not None:
            self.clusters = joint_units(pp["source_index"], pre.eval_dataset)[order]
            self.units = np.unique(self.clusters)  # sorted: searchsorted maps a unit to its column
            self.n_clusters = len(self.units)
        else:
            self.clusters = pre.clusters(pp)[order]
            self.units = None
            self.n_clusters = int(self.clusters.max()) + 1 if len(self.clusters) else 0

    def column(self, clusters: np.ndarray) -> np.ndarray:
        """Each image's column in the cluster sums: its cluster id, or its unit's rank among `units`."""
        return clusters if self.units is None else np.searchsorted(self.units, clusters)

    def pair(self, post) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(positions, pre_correct, post_correct, weights, clusters) on the post's images that pre also has."""
        p = post.predictions
        positions = p["positions"]
        idx = np.clip(np.searchsorted(self.positions, positions), 0, max(len(self.positions) - 1, 0))
        keep = self.positions[idx] == positions if len(self.positions) else np.zeros(len(positions), dtype=bool)
        post_correct = (p["top_idx"][:, 0] == p["labels"])[keep]
        return (positions[keep], self.correct[idx[keep]], post_correct, post.weights(p)[keep],
                self.clusters[idx[keep]])


class PreCache:
    """The last pre-evaluation used, kept while consecutive lookups need it (one in memory at a time)."""

    def __init__(self):
        self.key, self.ref = None, None

    def get(self, pre) -> PreReference:
        if self.ref is None or self.key != id(pre):
            self.ref = None  # release the old one before reading the next
            self.ref, self.key = PreReference(pre), id(pre)
        return self.ref


def _group(groups: list[dict], ref: PreReference) -> dict:
    """The group of sums that `ref`'s units belong to (created when it is the first of its kind)."""
    for group in groups:
        if group["family"] == ref.family and (ref.units is None or (
                len(group["units"]) == len(ref.units) and np.array_equal(group["units"], ref.units))):
            return group
    groups.append({"units": ref.units, "family": ref.family, "n": 0, "sums": [], "owners": []})
    return groups[-1]


def paired_accuracy(pre, post) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Align pre and post evaluations on the post's images: (positions, pre_correct, post_correct, weights)."""
    return PreReference(pre).pair(post)[:4]


def compute_all(results, pairs: list[tuple[str, str]], replicates: int = BOOTSTRAP_REPLICATES,
                seed: int = BOOTSTRAP_SEED) -> list[Robustness]:
    """RI/mRI of every (model, strategy) in `pairs`; one pass over the datasets, one resample set per D_j."""
    datasets = results.datasets
    diff = {pair: {} for pair in pairs}
    boot = {pair: {} for pair in pairs}  # pair -> i -> (replicates,) sum over j of delta_b / (N - 1)
    cache = PreCache()
    for j in datasets:
        # One resample of D_j for every (pair, i). Units are D_j's clusters, numbered alike in every model's
        # pre-evaluation (sums padded to the largest id), or, for a dataset that shares source images, source ids:
        # then one group per distinct unit set, each weighted by source_weights, which gives a source the same
        # weight in every group and in every dataset of its family (the joint bootstrap).
        groups: list[dict] = []  # {"units": array | None, "family": str | None, "sums": [], "owners": []}
        for model, strategy in pairs:
            for i in datasets:
                post = results.find(model, strategy, i, j) if i != j else None
                pre = results.pre_for(post) if post is not None else None
                if pre is None:
                    continue
                ref = cache.get(pre)
                _, c_pre, c_post, w, clusters = ref.pair(post)
                diff[(model, strategy)][(i, j)] = _weighted_acc(c_post, w) - _weighted_acc(c_pre, w)
                group = _group(groups, ref)
                group["n"] = max(group["n"], ref.n_clusters)
                group["sums"].append(cluster_sums(c_post.astype(np.float64) - c_pre, w, ref.column(clusters),
                                                  ref.n_clusters))
                group["owners"].append(((model, strategy), i))
                del post, c_pre, c_post, w, clusters
        for group in groups:
            n = group["n"]
            reduced = [tuple(np.pad(a, (0, n - len(a))) for a in s) for s in group.pop("sums")]
            chunks = (None if group["family"] is None else
                      source_weights(group["family"], group["units"], replicates, family_seed(seed, group["family"])))
            means = replicate_means(reduced, n, replicates, dataset_seed(seed, j), chunks)
            del reduced
            for k, (pair, i) in enumerate(group["owners"]):
                share = 100.0 * means[:, k] / (len(datasets) - 1)
                boot[pair][i] = boot[pair][i] + share if i in boot[pair] else share
    out = []
    for model, strategy in pairs:
        d = diff[(model, strategy)]
        complete = [i for i in datasets if all((i, j) in d for j in datasets if j != i)]
        if not complete:
            continue
        ri = {i: float(np.mean([d[(i, j)] for j in datasets if j != i])) for i in complete}
        b = boot[(model, strategy)]
        ri_ci = {i: percentile_interval(b[i], CONFIDENCE) for i in complete}
        mri = mri_ci = None
        if len(complete) == len(datasets):
            mri = float(np.mean([ri[i] for i in complete]))
            mri_ci = percentile_interval(np.mean([b[i] for i in complete], axis=0), CONFIDENCE)
        out.append(Robustness(model, strategy, complete, d, ri, ri_ci, mri, mri_ci))
    return out


def compute(results, model: str, strategy: str, replicates: int = BOOTSTRAP_REPLICATES,
            seed: int = BOOTSTRAP_SEED) -> Robustness | None:
    found = compute_all(results, [(model, strategy)], replicates, seed)
    return found[0] if found else None


def robustness_table(results) -> list[Robustness]:
    """Every (model, strategy) pair's RI; computed once per Results object and shared by the metrics."""
    cached = getattr(results, "_robustness", None)
    if cached is None:
        cached = compute_all(results, [(m, s) for m in results.models for s in results.strategies])
        results._robustness = cached
    return cached
