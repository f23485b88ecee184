"""RI_i and mRI with paired bootstrap confidence intervals, from stored per-sample predictions.

RI_i = 1/(N-1) * sum_{j != i} (A_i^(j) - A_pre^(j)), mRI = mean_i RI_i (the project page writes a sum; the
paper's own figures use the mean, and so does rib). A_pre^(j) is taken on exactly the images A_i^(j) used, so
every difference is paired. The interval is a seeded percentile bootstrap over evaluation images: each
replicate resamples the images of every D_j once and recomputes every difference on that resample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_REPLICATES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95


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


def paired_accuracy(pre, post) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Align pre and post evaluations on the post's images: (positions, pre_correct, post_correct, weights)."""
    pp, p = pre.predictions, post.predictions
    order = np.argsort(pp["positions"])
    pre_positions = pp["positions"][order]
    pre_all = (pp["top_idx"][:, 0] == pp["labels"])[order]
    positions = p["positions"]
    idx = np.clip(np.searchsorted(pre_positions, positions), 0, max(len(pre_positions) - 1, 0))
    keep = pre_positions[idx] == positions if len(pre_positions) else np.zeros(len(positions), dtype=bool)
    post_correct = (p["top_idx"][:, 0] == p["labels"])[keep]
    return positions[keep], pre_all[idx[keep]], post_correct, post.weights()[keep]


def compute(results, model: str, strategy: str, replicates: int = BOOTSTRAP_REPLICATES,
            seed: int = BOOTSTRAP_SEED) -> Robustness | None:
    datasets = results.datasets
    rng = np.random.default_rng(seed)
    diff: dict = {}
    per_j: dict = {}  # j -> (n images, {i: (pre, post, weights)})
    for j in datasets:
        pre = results.pretrained(model, j)
        if pre is None:
            continue
        for i in datasets:
            if i == j:
                continue
            post = results.find(model, strategy, i, j)
            if post is None:
                continue
            positions, c_pre, c_post, w = paired_accuracy(pre, post)
            diff[(i, j)] = _weighted_acc(c_post, w) - _weighted_acc(c_pre, w)
            per_j.setdefault(j, {})[i] = (positions, c_pre, c_post, w)
    complete = [i for i in datasets if all((i, j) in diff for j in datasets if j != i)]
    if not complete:
        return None
    ri = {i: float(np.mean([diff[(i, j)] for j in datasets if j != i])) for i in complete}

    # Bootstrap: one resample of D_j's images per replicate, shared by every i (the images are the same).
    boot = {i: np.zeros(replicates) for i in complete}
    for j, rows in per_j.items():
        reference_positions = next(iter(rows.values()))[0]
        n = len(reference_positions)
        if n == 0:
            continue
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)  # (B, n)
        for i, (positions, c_pre, c_post, w) in rows.items():
            if i not in boot:
                continue
            if len(positions) != n or not np.array_equal(positions, reference_positions):
                # Different image sets for this i (should not happen): resample them on their own.
                c = rng.multinomial(len(positions), np.full(len(positions), 1.0 / len(positions)), size=replicates)
            else:
                c = counts
            cw = c * w
            delta = 100.0 * (cw @ (c_post.astype(float) - c_pre.astype(float))) / cw.sum(axis=1)
            boot[i] += delta / (len(datasets) - 1)
    alpha = (1 - CONFIDENCE) / 2
    ri_ci = {i: (float(np.quantile(boot[i], alpha)), float(np.quantile(boot[i], 1 - alpha))) for i in complete}
    mri = mri_ci = None
    if len(complete) == len(datasets):
        mri = float(np.mean([ri[i] for i in complete]))
        mboot = np.mean([boot[i] for i in complete], axis=0)
        mri_ci = (float(np.quantile(mboot, alpha)), float(np.quantile(mboot, 1 - alpha)))
    return Robustness(model, strategy, complete, diff, ri, ri_ci, mri, mri_ci)


def robustness_table(results) -> list[Robustness]:
    """Every (model, strategy) pair's RI; computed once per Results object and shared by the metrics."""
    cached = getattr(results, "_robustness", None)
    if cached is None:
        cached = [r for m in results.models for s in results.strategies if (r := compute(results, m, s))]
        results._robustness = cached
    return cached
