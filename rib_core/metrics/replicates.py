"""RI_i and mRI over training-seed replicates, with an interval that covers test images and seeds together.

How the interval is built (docs/protocol.md says the same):
1. Within each seed, a percentile bootstrap over evaluation images: replicate b resamples the images of every
   D_j once; the resample of D_j depends only on D_j, so it is the same for every seed, strategy and model (all
   differences are paired). This gives RI_i^(s,b) for seed s and replicate b.
2. Across seeds, replicate b also draws S seeds with replacement and averages their RI_i^(s,b). The 2.5 and
   97.5 percentiles of those B values are the interval; the point value is the plain mean over seeds.
With one seed, step 2 is the identity and the interval is the image bootstrap alone.

`bootstrap_means` is the only place that resamples images; everything here goes through it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from rib_core.metrics.bootstrap import cluster_sums, dataset_seed, replicate_means
from rib_core.metrics.robustness import BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED, CONFIDENCE, PreReference

SEED_RESAMPLE_SEED = 1  # the seed draws of step 2; fixed so a report is reproducible


def bootstrap_means(dataset: str, values: np.ndarray, weights: np.ndarray,
                    replicates: int = BOOTSTRAP_REPLICATES, clusters=None) -> np.ndarray:
    """(k, n) per-image values -> (k, B) weighted means, one per image resample: the cluster (Poisson) bootstrap
    of rib_core/metrics/bootstrap.py, in bounded memory, seeded by the dataset's name.

    The resample depends only on the dataset and its cluster ids, so two calls on the same images share every
    resample (and the single-seed RI intervals): that is what makes comparisons and seeds paired.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n = values.shape[1]
    if n == 0:
        return np.full((values.shape[0], replicates), np.nan)
    ids = np.arange(n) if clusters is None else np.unique(np.asarray(clusters), return_inverse=True)[1].reshape(-1)
    n_clusters = int(ids.max()) + 1
    sums = [cluster_sums(v, weights, ids, n_clusters) for v in values]
    return replicate_means(sums, n_clusters, replicates, dataset_seed(BOOTSTRAP_SEED, dataset)).T


def interval(samples: np.ndarray) -> list[float]:
    alpha = (1 - CONFIDENCE) / 2
    return [float(np.nanquantile(samples, alpha)), float(np.nanquantile(samples, 1 - alpha))]


def combine(per_seed: np.ndarray) -> np.ndarray:
    """(S, B) replicates, one row per seed -> (B,) replicates of the seed mean with seeds resampled (step 2)."""
    seeds, replicates = per_seed.shape
    if seeds == 1:
        return per_seed[0]
    draws = np.random.default_rng(SEED_RESAMPLE_SEED).integers(0, seeds, size=(replicates, seeds))
    return per_seed[draws, np.arange(replicates)[:, None]].mean(axis=1)


def seed_of(evaluation) -> int | None:
    return evaluation.seed


def seeds_of(results, model: str, strategy: str) -> list:
    found = {seed_of(e) for e in results.evaluations if e.model == model and e.strategy == strategy}
    return sorted(found, key=lambda s: (s is None, s))


def seed_view(results, seed):
    """The results of one training seed: every pre-evaluation plus the fine-tuned evaluations of that seed."""
    view = copy.copy(results)
    view.evaluations = [e for e in results.evaluations if e.strategy is None or seed_of(e) == seed]
    return view


@dataclass
class SeedRun:
    """One seed's RI: point values and image-bootstrap replicates."""
    ri: dict  # i -> RI_i
    boot: dict  # i -> (B,) replicates


def one_seed(results, model: str, strategy: str, replicates: int) -> SeedRun:
    datasets = results.datasets
    ri, boot = {}, {}
    for i in datasets:
        points, reps = [], []
        for j in datasets:
            if j == i:
                continue
            pre, post = results.pretrained(model, j), results.find(model, strategy, i, j)
            if pre is None or post is None:
                break
            _, c_pre, c_post, w, clusters = PreReference(pre).pair(post)
            delta = 100.0 * (c_post.astype(float) - c_pre.astype(float))
            points.append(float((w * delta).sum() / w.sum()))
            reps.append(bootstrap_means(j, delta, w, replicates, clusters)[0])
        else:
            ri[i], boot[i] = float(np.mean(points)), np.mean(reps, axis=0)
    return SeedRun(ri, boot)


@dataclass
class SeedStats:
    model: str
    strategy: str
    seeds: list
    datasets: list  # D_i with RI in at least one seed
    ri: dict = field(default_factory=dict)  # i -> mean over seeds
    ri_ci: dict = field(default_factory=dict)
    ri_sd: dict = field(default_factory=dict)  # i -> standard deviation over seeds (None with one seed)
    ri_boot: dict = field(default_factory=dict)  # i -> (B,) combined replicates
    mri: float | None = None
    mri_ci: list | None = None
    mri_sd: float | None = None
    mri_boot: np.ndarray | None = None
    per_seed: dict = field(default_factory=dict)  # seed -> SeedRun (for paired comparisons)


def _sd(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def seed_stats(results, model: str, strategy: str, replicates: int = BOOTSTRAP_REPLICATES) -> SeedStats | None:
    seeds = seeds_of(results, model, strategy)
    runs = {s: one_seed(seed_view(results, s), model, strategy, replicates) for s in seeds}
    runs = {s: r for s, r in runs.items() if r.ri}
    if not runs:
        return None
    stats = SeedStats(model, strategy, list(runs), [i for i in results.datasets if any(i in r.ri for r in runs.values())],
                      per_seed=runs)
    for i in stats.datasets:
        having = [r for r in runs.values() if i in r.ri]
        stats.ri[i] = float(np.mean([r.ri[i] for r in having]))
        stats.ri_boot[i] = combine(np.stack([r.boot[i] for r in having]))
        stats.ri_ci[i], stats.ri_sd[i] = interval(stats.ri_boot[i]), _sd([r.ri[i] for r in having])
    complete = [r for r in runs.values() if len(r.ri) == len(results.datasets)]
    if complete:
        mri_per_seed = [float(np.mean(list(r.ri.values()))) for r in complete]
        stats.mri, stats.mri_sd = float(np.mean(mri_per_seed)), _sd(mri_per_seed)
        stats.mri_boot = combine(np.stack([np.mean([r.boot[i] for i in results.datasets], axis=0) for r in complete]))
        stats.mri_ci = interval(stats.mri_boot)
    return stats


def seed_table(results) -> list[SeedStats]:
    """Every (model, strategy) pair's seed-combined RI; computed once per Results object."""
    cached = getattr(results, "_seed_stats", None)
    if cached is None:
        cached = [r for m in results.models for s in results.strategies if (r := seed_stats(results, m, s))]
        results._seed_stats = cached
    return cached
