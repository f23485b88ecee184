"""A seeded cluster bootstrap for weighted means of paired per-sample differences, in O(replicates + samples) memory.

The resampling unit is a cluster: samples that are not independent draws from the test population (ImageNet-C's
75 corrupted versions of one ImageNet-val image) share a cluster id; by default every sample is its own cluster.
Each replicate gives every cluster a Poisson(1) weight (the Poisson bootstrap: a multinomial resample of the
clusters as their number grows, and independent across clusters, so it can be drawn in chunks of replicates
without ever holding a (replicates x samples) matrix). A replicate's statistic is the weighted mean
    sum_k W_bk * S_k / sum_k W_bk * T_k,   S_k = sum of w*v over cluster k, T_k = sum of w over cluster k,
so a sample set is reduced once to its per-cluster sums and then costs O(clusters) per replicate.

The interval covers test-set sampling only (which images were drawn), not training-seed variance.

Resamples are shared: the same (n_clusters, replicates, seed) draws the same weights, so several statistics
computed over the same clusters (every fine-tuning set i evaluated on one D_j; two strategies compared on one
dataset) see the same resamples and their replicates can be added or subtracted replicate by replicate.

Datasets that are renditions of the same source images (ImageNet-C, -Cartoon, -Drawing: the ImageNet-1k val
images) are resampled jointly: their unit is the source image itself, and the weight of source s in replicate b
is a function of (seed, source family, b, s) only (`source_weights`, a counter-based Poisson(1) draw), the same
in every dataset, evaluation subset and call. So one replicate gives the renditions of a source in ImageNet-C
and in ImageNet-Cartoon the same weight, and RI_i and mRI, which average over those datasets, see their
correlation (the cluster bootstrap of ImageNet-C's 75 versions of a source, extended across datasets).
"""

from __future__ import annotations

import collections
import hashlib
import zlib

import numpy as np

REPLICATES = 1000
SEED = 0
CONFIDENCE = 0.95
_CHUNK_ELEMENTS = 1 << 22  # Poisson weights drawn at a time: 32 MB of float64, whatever the dataset size


def cluster_sums(values, weights, clusters, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster (sum of weights * values, sum of weights): all a bootstrap needs from a sample set."""
    weights = np.asarray(weights, dtype=np.float64)
    clusters = np.asarray(clusters, dtype=np.int64)
    numerator = np.bincount(clusters, weights=weights * np.asarray(values, dtype=np.float64), minlength=n_clusters)
    return numerator, np.bincount(clusters, weights=weights, minlength=n_clusters)


def dataset_seed(seed: int, name: str) -> list[int]:
    """The seed of one dataset's resamples: the same whichever other datasets a report holds."""
    return [seed, zlib.crc32(name.encode())]


def poisson_weights(n_clusters: int, replicates: int = REPLICATES, seed=SEED):
    """Yield (rows, n_clusters) float64 Poisson(1) weights, replicate after replicate, in bounded chunks.

    Concatenated, the chunks equal `np.random.default_rng(seed).poisson(1.0, (replicates, n_clusters))`.
    """
    rows = max(1, _CHUNK_ELEMENTS // max(n_clusters, 1))
    if rows >= replicates:  # one chunk: the same weights are asked for once per (i, seed, strategy) of a D_j
        yield _one_chunk(n_clusters, replicates, tuple(seed) if isinstance(seed, list) else seed)
        return
    rng = np.random.default_rng(seed)
    for start in range(0, replicates, rows):
        yield rng.poisson(1.0, (min(rows, replicates - start), n_clusters)).astype(np.float64)


_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_ELEMENTS = 2 * _CHUNK_ELEMENTS  # 64 MB of float64 at most, however many datasets ask


def _one_chunk(n_clusters: int, replicates: int, seed) -> np.ndarray:
    """The whole weight matrix of a small dataset, drawn once and kept while there is room (least recently used
    first out): a report asks for the same D_j's weights once per fine-tuning set, seed and strategy."""
    key = (n_clusters, replicates, seed)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    weights = np.random.default_rng(list(seed) if isinstance(seed, tuple) else seed).poisson(
        1.0, (replicates, n_clusters)).astype(np.float64)
    weights.flags.writeable = False  # shared by every caller
    _CACHE[key] = weights
    while sum(w.size for w in _CACHE.values()) > _CACHE_ELEMENTS and len(_CACHE) > 1:
        _CACHE.popitem(last=False)
    return weights


_POISSON_CDF = np.cumsum([np.exp(-1.0) / float(np.prod(np.arange(1, k + 1))) for k in range(25)])
_POISSON_CDF[-1] = 1.0  # P(Poisson(1) > 24) < 1e-25: the table is the whole distribution in float64
_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (arithmetic modulo 2^64, as numpy's integer arrays wrap)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def source_weights(family: str, ids, replicates: int = REPLICATES, seed=SEED):
    """Yield (rows, len(ids)) float64 Poisson(1) weights for source images `ids` (int64), replicate after
    replicate, in bounded chunks. The weight of id s in replicate b depends on (seed, family, b, s) only: any two
    datasets of the same family give a source the same weight in every replicate, whichever other sources they
    hold (a capped dataset, a held-out subset)."""
    base = np.frombuffer(hashlib.blake2b(f"{seed}:{family}".encode(), digest_size=8).digest(), dtype=">u8")
    base = base.astype(np.uint64)
    keys = _mix(np.asarray(ids, dtype=np.int64).astype(np.uint64) + _GOLDEN)[None, :]
    n = max(len(keys[0]), 1)
    rows = max(1, _CHUNK_ELEMENTS // n)
    with np.errstate(over="ignore"):
        for start in range(0, replicates, rows):
            b = np.arange(start, min(start + rows, replicates), dtype=np.uint64)[:, None]
            u = _mix(_mix(base ^ (b * _GOLDEN)) ^ keys)
            uniform = (u >> np.uint64(11)).astype(np.float64) * (1.0 / 2 ** 53)
            yield np.searchsorted(_POISSON_CDF, uniform, side="right").astype(np.float64)


def joint_units(sources, dataset: str) -> np.ndarray:
    """The joint bootstrap's unit of each image: its source id, or (-1: a file name without one) a negative id of
    its own, unique to the dataset and the image, so that it is resampled alone."""
    sources = np.asarray(sources, dtype=np.int64)
    unknown = np.flatnonzero(sources < 0)
    if len(unknown):
        sources = sources.copy()
        sources[unknown] = -(np.int64(zlib.crc32(dataset.encode())) << np.int64(31)) - 1 - unknown
    return sources


def family_seed(seed, family: str) -> list[int]:
    """The seed of a source family's weights (a list, like dataset_seed's, so that it is never a dataset's)."""
    return [seed, zlib.crc32(f"sources:{family}".encode())]


def replicate_means(sums: list[tuple[np.ndarray, np.ndarray]], n_clusters: int, replicates: int = REPLICATES,
                    seed=SEED, weights=None) -> np.ndarray:
    """(replicates, len(sums)) bootstrap replicates of each weighted mean, all on the same resamples.

    `sums` are `cluster_sums` outputs over the same cluster ids. A replicate in which a mean's clusters all
    draw weight 0 (probability e^-clusters: only for a handful of clusters) has no mean; it takes the
    full-sample mean instead, so that a statistic that is constant over samples has a zero-width interval.
    `weights`: the chunks of replicate weights to use (`source_weights`); default `poisson_weights(n_clusters,
    replicates, seed)`.
    """
    out = np.empty((replicates, len(sums)))
    if not sums:
        return out
    numerators = np.stack([s[0] for s in sums], axis=1)  # (n_clusters, k)
    denominators = np.stack([s[1] for s in sums], axis=1)
    row = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        for w in (poisson_weights(n_clusters, replicates, seed) if weights is None else weights):
            out[row:row + len(w)] = (w @ numerators) / (w @ denominators)
            row += len(w)
        full = numerators.sum(axis=0) / denominators.sum(axis=0)
    return np.where(np.isnan(out), full, out)


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (nan replicates skipped; (nan, nan) if all are)."""
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[~np.isnan(replicates)]
    if not len(replicates):
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    return float(np.quantile(replicates, alpha)), float(np.quantile(replicates, 1 - alpha))


def paired_mean_interval(differences, clusters=None, weights=None, replicates: int = REPLICATES, seed=SEED,
                         confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval for the (weighted) mean of paired per-sample differences (post - pre on the same samples).

    `clusters`: an integer cluster id per sample (default: each sample its own cluster); `weights`: per-sample
    weights (default: equal). Same `seed` and cluster ids => same resamples as any other call.
    """
    differences = np.asarray(differences, dtype=np.float64)
    n = len(differences)
    if clusters is None:
        clusters = np.arange(n)
    clusters = np.unique(np.asarray(clusters), return_inverse=True)[1].reshape(-1)
    n_clusters = int(clusters.max()) + 1 if n else 0
    weights = np.ones(n) if weights is None else weights
    means = replicate_means([cluster_sums(differences, weights, clusters, n_clusters)], n_clusters, replicates, seed)
    return percentile_interval(means[:, 0], confidence)
