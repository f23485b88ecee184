"""Accuracy over a dataset's images: the one definition that records, reports and the bootstrap share.

A dataset with groups ("<corruption>/<severity>" for ImageNet-C) is averaged level by level: over the images of
a group, then over groups within the level above, and so on; without groups every image weighs the same.
Torch-free, so `rib report` reads results without importing torch.
"""

from __future__ import annotations

import numpy as np


def weighted_accuracy(correct, groups) -> float:
    """Accuracy in % of per-image correctness (bool array) under hierarchical_weights(groups); nan if empty."""
    correct = np.asarray(correct, dtype=bool)
    if correct.size == 0:
        return float("nan")
    return float(100.0 * (hierarchical_weights(list(groups)) * correct).sum())


def hierarchical_weights(groups: list[str]) -> np.ndarray:
    """Per-image weights so that a weighted mean of correctness averages level by level over "a/b" groups.

    ImageNet-C's groups are "<corruption>/<severity>": accuracy is the mean over images of a severity, then
    over severities, then over corruptions. Without groups every image weighs the same. Weights sum to 1.
    """
    weights = np.zeros(len(groups))
    parts = [g.split("/") if g else [] for g in groups]

    def share_out(indices: list[int], level: int, share: float) -> None:
        buckets: dict = {}
        for i in indices:
            buckets.setdefault(parts[i][level] if level < len(parts[i]) else None, []).append(i)
        if list(buckets) == [None]:
            weights[indices] = share / len(indices)
            return
        for name, members in buckets.items():
            if name is None:
                weights[members] = share / len(buckets) / len(members)
            else:
                share_out(members, level + 1, share / len(buckets))

    if groups:
        share_out(list(range(len(groups))), 0, 1.0)
    return weights


def group_weights(names: list[str] | None, group_index, n: int) -> np.ndarray:
    """hierarchical_weights of the images whose groups are names[group_index], bit for bit, without a per-image loop.

    The share of each group is computed on one stand-in image per group, then split over its images: the same
    divisions in the same order as hierarchical_weights over all images.
    """
    if not names or not n:
        return np.full(n, 1.0 / n) if n else np.zeros(0)  # = hierarchical_weights([""] * n): share 1.0 / n each
    index = np.asarray(group_index, dtype=np.int64)
    counts = np.bincount(index, minlength=len(names))
    return hierarchical_weights(list(names))[index] / counts[index]
