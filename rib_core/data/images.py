"""Decoded images, delivered as uint8 batches: from a memory-mapped cache, or decoded on the fly.

Decoding JPEGs must never be what a GPU waits for. `open_images(..., cache_dir=...)` decodes, resizes and crops
every image once per (dataset, image list, geometry) into uint8 tensors in safetensors shards:

    <cache_dir>/<key>/shard-00000.safetensors    "images" (n, 3, S, S) uint8, "readable" (n,) uint8
    <cache_dir>/<key>/manifest.json              written last: its presence marks a complete cache

The key hashes the adapter's identity, the (path, size, mtime_ns) of every image and the preprocessing
geometry: a changed file list or a touched file gives a new key, never a silently reused cache. Each shard is
written to a temporary file, flushed and renamed, so a shard file is always complete; a build killed half-way
leaves no manifest, and the next open decodes only the shards that are missing. Reading memory-maps the shards
(safetensors safe_open): a batch costs one gather, with no Python work per image. Nothing is pickled.

Disk cost: 3 * S * S bytes per image, 150 KB at S = 224:
| dataset | images | cache at 224 px |
| --- | --- | --- |
| ImageNet-V2 | 10,000 | 1.5 GB |
| ImageNet-A | 7,500 | 1.1 GB |
| ImageNet-R | 30,000 | 4.5 GB |
| ImageNet-Sketch | 50,889 | 7.7 GB |
| ImageNet-Cartoon / -Drawing / val | 50,000 each | 7.5 GB each |
| ObjectNet (113 classes) | 18,574 | 2.8 GB |
| ImageNet-C (15 x 5) | 3,750,000 | 565 GB (one corruption at one severity: 7.5 GB) |

Without a cache directory, images are decoded on the fly by DataLoader workers, every time.
Decoding lives in rib_core.data.decode, the cache's files and their building in rib_core.data.image_cache.
"""

from __future__ import annotations

import mmap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from safetensors import safe_open

from rib_core.data.cache_check import verify_shards
from rib_core.data.decode import DECODE_CHUNK, decode_batches, in_chunks, unreadable_error
from rib_core.data.image_cache import SHARD_BYTES, build_cache, cache_key, read_manifest

__all__ = ["DecodedImages", "StreamingImages", "CachedImages", "open_images", "cache_key"]


# -- the two sources of batches ------------------------------------------------------------------------------

class DecodedImages:
    """Images of `samples`, by position, as uint8 (B, 3, S, S) batches."""

    def __init__(self, adapter, samples, preprocess, strict: bool = False):
        self.adapter, self.samples, self.preprocess, self.strict = adapter, list(samples), preprocess, strict
        self.size = preprocess.input_size
        self.cache_path: Path | None = None  # the cache folder, when there is one
        self.decoded = 0  # images decoded by this object so far (0 when a complete cache was reused)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def unreadable(self) -> list[int]:
        """Positions that could not be decoded (without a cache: those met so far)."""
        raise NotImplementedError

    def batches(self, positions, batch_size: int,
                pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, np.ndarray]]:
        """(uint8 images, their positions) in the order of `positions`, unreadable images skipped."""
        raise NotImplementedError

    def readable_positions(self, positions) -> np.ndarray:
        """The positions of `positions` (in their order) that `batches` yields: the unreadable ones left out.
        What fine-tuning counts its batches from, so that an epoch yields exactly what was counted."""
        raise NotImplementedError


class StreamingImages(DecodedImages):
    """No cache: every batch is decoded from the image files by DataLoader workers."""

    def __init__(self, adapter, samples, preprocess, workers: int = 0, strict: bool = False):
        super().__init__(adapter, samples, preprocess, strict)
        self.workers = workers
        self._unreadable: dict[int, str] = {}
        self._checked = np.zeros(len(self.samples), dtype=bool)  # decoded once (readable or not) by this object

    @property
    def unreadable(self) -> list[int]:
        return sorted(self._unreadable)

    def _known_bad(self, positions: np.ndarray) -> np.ndarray:
        return np.isin(positions, np.fromiter(self._unreadable, dtype=np.int64, count=len(self._unreadable)))

    def batches(self, positions, batch_size, pin_memory=False):
        positions = np.asarray(positions, dtype=np.int64)
        chunks = in_chunks(positions[~self._known_bad(positions)], batch_size)
        for done, images, errors in decode_batches(self.adapter, self.samples, self.preprocess, chunks,
                                                    self.workers, pin_memory):
            for position, error in errors:
                if self.strict:
                    raise unreadable_error(self.adapter, self.samples, position, error)
                self._unreadable[position] = error
                self._checked[position] = True
            self._checked[done] = True
            self.decoded += len(done)
            if images is not None:
                yield images, done

    def readable_positions(self, positions) -> np.ndarray:
        """Decoding is the only sure test of an image file, so positions this object has not decoded yet are
        decoded once here (an evaluation of the same images before, the usual order, leaves nothing to do)."""
        positions = np.asarray(positions, dtype=np.int64)
        unchecked = positions[~self._checked[positions]]
        for _ in self.batches(unchecked, DECODE_CHUNK):
            pass
        return positions[~self._known_bad(positions)]


class CachedImages(DecodedImages):
    """A complete cache: shards memory-mapped, batches gathered from them."""

    def __init__(self, adapter, samples, preprocess, folder: Path, manifest: dict, strict: bool = False):
        super().__init__(adapter, samples, preprocess, strict)
        self.cache_path = folder
        self.shard_images = int(manifest["shard_images"])
        self._shard_names = list(manifest["shards"])
        self._errors = {int(p): e for p, e in manifest["unreadable"].items()}
        self.readable = np.ones(len(self.samples), dtype=bool)
        self.readable[list(self._errors)] = False
        self._shards: dict[int, np.ndarray] = {}
        if strict and self._errors:
            position = min(self._errors)
            raise unreadable_error(adapter, self.samples, position, self._errors[position])

    @property
    def unreadable(self) -> list[int]:
        return sorted(self._errors)

    def readable_positions(self, positions) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        return positions[self.readable[positions]]

    def _shard(self, index: int) -> np.ndarray:
        if index not in self._shards:
            with safe_open(str(self.cache_path / self._shard_names[index]), framework="pt") as f:
                # Memory-mapped, not read into memory. Gathered through numpy: np.take copies whole rows and
                # is several times faster than torch's advanced indexing on uint8.
                self._shards[index] = f.get_tensor("images").numpy()
        return self._shards[index]

    def _gather(self, chunk: np.ndarray, pin_memory: bool) -> torch.Tensor:
        out = _batch_buffer((len(chunk), 3, self.size, self.size), pin_memory)
        target = out.numpy()
        shard_of = chunk // self.shard_images
        for shard in np.unique(shard_of):
            rows = np.flatnonzero(shard_of == shard)
            local = chunk[rows] - shard * self.shard_images
            if rows[-1] - rows[0] == len(rows) - 1:  # rows form one run: gather straight into the batch
                np.take(self._shard(int(shard)), local, axis=0, out=target[rows[0]:rows[-1] + 1], mode="clip")
            else:
                target[rows] = np.take(self._shard(int(shard)), local, axis=0)
        return out

    def batches(self, positions, batch_size, pin_memory=False):
        positions = np.asarray(positions, dtype=np.int64)
        chunks = in_chunks(self.readable_positions(positions), batch_size)
        # Gather the next batch in a thread while the caller works on this one (copies release the GIL).
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(self._gather, chunks[0], pin_memory) if chunks else None
            for i, chunk in enumerate(chunks):
                images = pending.result()
                if i + 1 < len(chunks):
                    pending = pool.submit(self._gather, chunks[i + 1], pin_memory)
                yield images, chunk


def _batch_buffer(shape: tuple[int, ...], pin_memory: bool) -> torch.Tensor:
    """An uninitialised uint8 tensor to gather one batch into.

    Pinned (for copies to CUDA): torch's caching host allocator reuses its blocks. Otherwise an anonymous memory
    map of the batch's own, unmapped as soon as the batch is dropped. Batches from malloc are blocks of a few
    MB that glibc keeps in its heaps once freed, where they fragment: evaluating 0.5-4k images from the cache
    at batch 64 grew the process by 110-405 MB that way, rising with the dataset, against a flat ~58 MB with a
    mapping per batch (benchmarks/bench_memory.py, docs/performance.md). Pre-faulting the mapping costs ~4 ms
    per 10 MB batch on a 2-core CPU: far below what a model takes for a batch on a CPU; batches for CUDA are
    best gathered pinned. (Batches over 32 MB, e.g. 256 images at 224 px, get a mapping of their own from glibc
    anyway.)
    """
    nbytes = int(np.prod(shape))
    if pin_memory or nbytes == 0 or not hasattr(mmap, "MAP_ANONYMOUS"):
        return torch.empty(shape, dtype=torch.uint8, pin_memory=pin_memory)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    # The tensor holds a reference to the mapping, which is unmapped when the last view of it is freed.
    return torch.frombuffer(mmap.mmap(-1, nbytes, flags=flags), dtype=torch.uint8).view(shape)


def open_images(adapter, samples, preprocess, cache_dir: Path | None, workers: int = 0, progress=None,
                strict: bool = False, shard_images: int | None = None) -> DecodedImages:
    """Images of `samples` for batching; with `cache_dir`, decoded once into a memory-mapped cache.

    `workers`: DataLoader worker processes for decoding (0 decodes in this process).
    `progress(done, total)`: called while a cache is built. `strict`: raise DataError naming the first
    unreadable image instead of skipping it. `shard_images`: images per shard (default: ~256 MB shards).
    """
    samples = list(samples)
    if cache_dir is None:
        return StreamingImages(adapter, samples, preprocess, workers, strict)
    key = cache_key(adapter, samples, preprocess)
    folder = Path(cache_dir) / key
    manifest = read_manifest(folder, key, len(samples))
    if manifest is not None and not verify_shards(folder, manifest):
        manifest = None  # damaged shards were deleted: decode them again
    decoded = 0
    if manifest is None:
        per_image = 3 * preprocess.input_size ** 2
        shard_images = shard_images or max(1, SHARD_BYTES // per_image)
        manifest, decoded = build_cache(adapter, samples, preprocess, folder, key, shard_images, workers, progress,
                                   strict)
    images = CachedImages(adapter, samples, preprocess, folder, manifest, strict)
    images.decoded = decoded
    return images
