"""Deterministic, stratified fine-tuning / held-out splits, and class-balanced caps for quick runs.

Membership is derived from a hash of (seed, relative path), never from list order: each class's images are
ranked by that hash and the first round(fraction * n) go to the fine-tuning part. Adding or removing a file
therefore only ever moves images of its own class, and the same tree gives the same split on every machine.

Samples that are versions of one source image (ImageNet-C's corruptions and severities of a val image) share
one split key: the path with the sample's group prefix removed, so all versions land on the same side and the
held-out part never contains a corrupted copy of a training image.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

from rib_core.data.names import name_bytes
from rib_core.errors import ConfigError


def _hash(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(name_bytes(f"{seed}\0{key}"), digest_size=8).digest(), "big")


def split_key(sample) -> str:
    """The identity of a sample's source image (its path without the group prefix)."""
    prefix = f"{sample.group}/" if sample.group else ""
    return sample.path[len(prefix):] if prefix and sample.path.startswith(prefix) else sample.path


def split_indices(samples, fraction: float = 0.8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions into `samples` of the fine-tuning part and of the held-out part (each sorted).

    Stratified by class: each class with at least two source images has at least one in each part.
    The two parts are disjoint and together cover every sample.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ConfigError(f"split fraction must be strictly between 0 and 1 (the share of each class used for "
                          f"fine-tuning), got {fraction!r}.")
    positions_of_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    for position, sample in enumerate(samples):
        positions_of_key[(sample.label, split_key(sample))].append(position)

    keys_of_class: dict[int, list[str]] = defaultdict(list)
    for label, key in positions_of_key:
        keys_of_class[label].append(key)

    fine_tune, held_out = [], []
    for label, keys in keys_of_class.items():
        keys.sort(key=lambda k: (_hash(seed, k), k))
        n = len(keys)
        n_fine_tune = n if n == 1 else min(max(int(round(fraction * n)), 1), n - 1)
        for rank, key in enumerate(keys):
            (fine_tune if rank < n_fine_tune else held_out).extend(positions_of_key[(label, key)])
    return np.array(sorted(fine_tune), dtype=np.int64), np.array(sorted(held_out), dtype=np.int64)


def cap_samples(samples, max_images: int | None, seed: int = 0) -> list:
    """A deterministic, class-balanced subset of at most `max_images` samples (in the input's order).

    Round-robin over strata (class, and group where there is one): every stratum gives its hash-first image
    before any gives its second, so a cap of 1000 on a 1000-class dataset keeps one image per class.
    """
    if max_images is None or max_images >= len(samples):
        return list(samples)
    if int(max_images) < 1:
        raise ConfigError(f"max_images must be a positive integer, got {max_images!r}.")
    strata: dict[tuple[int, str], list[int]] = defaultdict(list)
    for position, sample in enumerate(samples):
        strata[(sample.label, sample.group)].append(position)
    order = []
    for (label, group), positions in strata.items():
        stratum_rank = _hash(seed, f"stratum\0{label}\0{group}")
        positions.sort(key=lambda p: (_hash(seed, samples[p].path), samples[p].path))
        order.extend((rank, stratum_rank, p) for rank, p in enumerate(positions))
    order.sort()
    keep = sorted(p for _, _, p in order[: int(max_images)])
    return [samples[p] for p in keep]
