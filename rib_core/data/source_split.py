"""Datasets that are renditions of the same source images, and one split of those sources for all of them.

ImageNet-C, ImageNet-Cartoon and ImageNet-Drawing are made from the ImageNet-1k validation images, which are
also the reference set. Fine-tuning on one of them therefore trains on renditions of the source images behind
the others and behind the reference set. With the suite's `eval_images = "held-out-sources"`, each sample of
such a dataset is mapped to its source image (the val id `ILSVRC2012_val_XXXXXXXX` in its file name) and the
sources are split once, globally: a source is a fine-tuning source iff

    int(blake2b(f"{seed}:{id}", digest_size=8)) / 2**64 < split

with the suite's seed and split. The same source image thus falls on the same side in every dataset, whatever
the datasets, their order or their caps: no image evaluated on one dataset has a source that another dataset's
fine-tune trained on.

Adapters declare the sharing with a class attribute, `source_images = "imagenet-1k-val"` (None: shares no
source image with any other dataset). torch-free.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rib_core.errors import DataError

# The val id anywhere in the file name (not in folder names): ILSVRC2012_val_00012345.JPEG, .png, _cartoon.jpg, ...
VAL_ID = re.compile(r"ILSVRC2012_val_(\d{8})", re.IGNORECASE)
_SCALE = float(2 ** 64)


def shared_sources(adapter) -> str | None:
    """The set of source images a dataset's adapter declares it is made of (None: its own images)."""
    return getattr(adapter, "source_images", None) if adapter is not None else None


def source_id(path: str) -> str | None:
    """The ImageNet-1k val id behind a sample path (`<corruption>/<sev>/<wnid>/ILSVRC2012_val_00000001.JPEG`
    -> `ILSVRC2012_val_00000001`), from the file name only; None when the name carries none."""
    match = VAL_ID.search(path.replace("\\", "/").rsplit("/", 1)[-1])
    return f"ILSVRC2012_val_{match.group(1)}" if match else None


def source_fraction(source: str, seed: int) -> float:
    """Where a source id falls in [0, 1): the same for every dataset that holds a rendition of it."""
    digest = hashlib.blake2b(f"{seed}:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def is_finetune_source(source: str, split: float, seed: int) -> bool:
    return source_fraction(source, seed) < split


def source_ids(samples, label: str = "dataset") -> list[str]:
    """The source id of every sample; a sample whose file name holds none is refused, naming its file."""
    ids = []
    for sample in samples:
        found = source_id(sample.path)
        if found is None:
            raise DataError(
                f"dataset '{label}' declares that its images are renditions of the ImageNet-1k validation images, "
                f"but the file '{sample.path}' carries no val id (ILSVRC2012_val_XXXXXXXX) in its name, so "
                "eval_images = \"held-out-sources\" cannot tell which source image it shows. Keep the "
                "distributed file names, or use eval_images = \"held-out\".")
        ids.append(found)
    return ids


def source_numbers(samples) -> np.ndarray:
    """The val id number of each sample's source image (ILSVRC2012_val_00012345 -> 12345) as int64, -1 where the
    file name carries none: the joint bootstrap's resampling unit across sharing datasets, and what
    rib_core/data/source_overlap.py compares."""
    out = np.full(len(samples), -1, dtype=np.int64)
    for n, sample in enumerate(samples):
        match = VAL_ID.search(sample.path.replace("\\", "/").rsplit("/", 1)[-1])
        if match:
            out[n] = int(match.group(1))
    return out


def split_by_source(samples, split: float, seed: int, label: str = "dataset") -> tuple[np.ndarray, np.ndarray]:
    """Positions into `samples` (each sorted) of the fine-tuning part (its source is a fine-tuning source) and
    of the held-out part (every other sample). Not stratified by class: the split is the sources', global."""
    ids = source_ids(samples, label)
    cache: dict[str, bool] = {}
    ft, held = [], []
    for position, source in enumerate(ids):
        if source not in cache:
            cache[source] = is_finetune_source(source, split, seed)
        (ft if cache[source] else held).append(position)
    return np.array(ft, dtype=np.int64), np.array(held, dtype=np.int64)
