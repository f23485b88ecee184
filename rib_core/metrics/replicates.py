"""RI_i and mRI over training-seed replicates, with an interval that covers test images and seeds together.

How the interval is built (docs/protocol.md says the same):
1. Within each seed, a percentile bootstrap over evaluation images: replicate b resamples the images of every
   D_j once; the resample of D_j depends only on D_j (or, for datasets that render the same source images, on
   the sources: rib_core/metrics/bootstrap.py), so it is the same for every seed, strategy and model (all
   differences are paired). This gives RI_i^(s,b) for seed s and replicate b, and the image replicates of the
   seed mean, (1/S) sum_s RI_i^(s,b).
2. Across seeds, a t interval: the seed component's half-width is t_{S-1} * sd / sqrt(S), sd the standard
   deviation of the S per-seed values (Student's t with S - 1 degrees of freedom, which keeps its coverage with
   2 or 3 seeds, where resampling S seeds cannot).
3. Each end of the interval adds the two in quadrature: low = m - sqrt((m - q_low)^2 + h^2), high likewise, with
   m the mean over seeds, q the percentiles of step 1's replicates and h step 2's half-width.
With one seed, h = 0 and the interval is the image bootstrap alone (it then says nothing about seeds).
benchmarks/bench_coverage.py measures the coverage at S = 2, 3, 5 and 10.

`bootstrap_means` is the only place that resamples images; everything here goes through it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from rib_core.metrics.bootstrap import (cluster_sums, dataset_seed, family_seed, replicate_means,
                                        source_weights)
from rib_core.metrics.robustness import BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED, CONFIDENCE, PreReference


def bootstrap_means(dataset: str, values: np.ndarray, weights: np.ndarray,
                    replicates: int = BOOTSTRAP_REPLICATES, clusters=None, family: str | None = None) -> np.ndarray:
    """(k, n) per-image values -> (k, B) weighted means, one per image resample: the cluster (Poisson) bootstrap
    of rib_core/metrics/bootstrap.py, in bounded memory, seeded by the dataset's name, or, with `family`,
    weighted per source id (`clusters` are then source ids) the same way in every dataset of that family.

    The resample depends only on the dataset (or the sources) and its cluster ids, so two calls on the same
    images share every resample (and the single-seed RI intervals): that is what makes comparisons and seeds
    paired.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    n = values.shape[1]
    if n == 0:
        return np.full((values.shape[0], replicates), np.nan)
    if clusters is None:
        units, ids = None, np.arange(n)
    else:
        units, ids = np.unique(np.asarray(clusters), return_inverse=True)
        ids = ids.reshape(-1)
    n_clusters = int(ids.max()) + 1
    sums = [cluster_sums(v, weights, ids, n_clusters) for v in values]
    chunks = None
    if family is not None:
        chunks = source_weights(family, units, replicates, family_seed(BOOTSTRAP_SEED, family))
    return replicate_means(sums, n_clusters, replicates, dataset_seed(BOOTSTRAP_SEED, dataset), chunks).T


def interval(samples: np.ndarray, confidence: float = CONFIDENCE, method: str = "linear") -> list[float]:
    """The percentile interval of bootstrap replicates (image sampling only); `method`: numpy's quantile rule."""
    alpha = (1 - confidence) / 2
    return [float(np.nanquantile(samples, alpha, method=method)),
            float(np.nanquantile(samples, 1 - alpha, method=method))]


def seed_mean(per_seed: np.ndarray) -> np.ndarray:
    """(S, B) image replicates, one row per seed, on the same image resamples -> (B,) those of the seed mean."""
    return np.asarray(per_seed, dtype=np.float64).mean(axis=0)


def seed_interval(values, image_boot: np.ndarray, confidence: float = CONFIDENCE, method: str = "linear") -> list[float]:
    """The interval of the mean of per-seed `values` (steps 1-3 above); `image_boot`: the (B,) image replicates
    of that mean (`seed_mean`). One value: the image bootstrap's percentile interval."""
    from scipy.special import stdtrit

    values = np.asarray(values, dtype=np.float64)
    low, high = interval(image_boot, confidence, method)
    if len(values) < 2:
        return [low, high]
    point = float(values.mean())
    half = float(stdtrit(len(values) - 1, 1 - (1 - confidence) / 2)) * float(values.std(ddof=1)) / np.sqrt(len(values))
    return [point - float(np.hypot(max(point - low, 0.0), half)), point + float(np.hypot(max(high - point, 0.0), half))]


def p_value(values, image_boot: np.ndarray) -> float:
    """Two-sided p-value of "the mean is 0", dual to `seed_interval`: the largest alpha whose 1 - alpha interval
    still holds 0, found by bisection. The interval's quantiles here use the (B + 1) rule (numpy's "weibull",
    the k-th of B sorted replicates is the k / (B + 1) quantile), a hair wider in the tails than the printed
    intervals: the usual Monte Carlo correction, so that Holm's small thresholds (alpha / 8) are not passed on
    the strength of two or three replicates (benchmarks/bench_coverage.py, part 3). It is never below
    2 / (B + 1), what B replicates can tell."""
    values = np.asarray(values, dtype=np.float64)
    point = float(values.mean()) if len(values) else float(np.nanmean(image_boot))

    def excludes_zero(alpha: float) -> bool:
        low, high = (seed_interval(values, image_boot, 1 - alpha, "weibull") if len(values)
                     else interval(image_boot, 1 - alpha, "weibull"))
        return low > 0 or high < 0

    floor = 2.0 / (len(image_boot) + 1)  # no replicate on the other side of 0: p < 2 / (B + 1), not 0
    if not excludes_zero(1.0 - 1e-12) and point == 0:
        return 1.0
    if excludes_zero(floor):
        return floor
    lo, hi = floor, 1.0 - 1e-12  # holds 0 at lo, excludes it at hi
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if excludes_zero(mid) else (mid, hi)
    return float(hi)


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
            ref = PreReference(pre)
            _, c_pre, c_post, w, clusters = ref.pair(post)
            delta = 100.0 * (c_post.astype(float) - c_pre.astype(float))
            points.append(float((w * delta).sum() / w.sum()))
            reps.append(bootstrap_means(j, delta, w, replicates, clusters, ref.family)[0])
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
    ri_values: dict = field(default_factory=dict)  # i -> the per-seed values
    ri_boot: dict = field(default_factory=dict)  # i -> (B,) image replicates of the seed mean
    mri: float | None = None
    mri_ci: list | None = None
    mri_sd: float | None = None
    mri_values: list | None = None
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
        stats.ri_values[i] = [r.ri[i] for r in having]
        stats.ri[i] = float(np.mean(stats.ri_values[i]))
        stats.ri_boot[i] = seed_mean(np.stack([r.boot[i] for r in having]))
        stats.ri_ci[i] = seed_interval(stats.ri_values[i], stats.ri_boot[i])
        stats.ri_sd[i] = _sd(stats.ri_values[i])
    complete = [r for r in runs.values() if len(r.ri) == len(results.datasets)]
    if complete:
        stats.mri_values = [float(np.mean(list(r.ri.values()))) for r in complete]
        stats.mri, stats.mri_sd = float(np.mean(stats.mri_values)), _sd(stats.mri_values)
        stats.mri_boot = seed_mean(np.stack([np.mean([r.boot[i] for i in results.datasets], axis=0)
                                             for r in complete]))
        stats.mri_ci = seed_interval(stats.mri_values, stats.mri_boot)
    return stats


def seed_table(results) -> list[SeedStats]:
    """Every (model, strategy) pair's seed-combined RI; computed once per Results object."""
    cached = getattr(results, "_seed_stats", None)
    if cached is None:
        cached = [r for m in results.models for s in results.strategies if (r := seed_stats(results, m, s))]
        results._seed_stats = cached
    return cached
