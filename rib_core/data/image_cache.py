"""The decoded-image cache on disk: its key, its shards and manifest, and building it (resumably).

    <cache_dir>/<key>/shard-00000.safetensors    "images" (n, 3, S, S) uint8, "readable" (n,) uint8
    <cache_dir>/<key>/manifest.json              written last: its presence marks a complete cache

rib_core.data.images explains the design and reads the cache; rib_core.data.cache_check verifies it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from rib_core.data.cache_check import shard_checksums
from rib_core.data.decode import DECODE_CHUNK, decode_batches, in_chunks, unreadable_error
from rib_core.data.names import name_bytes, shown
from rib_core.disk import atomic_write
from rib_core.errors import DataError

CACHE_FORMAT = "rib-image-cache/1"
SHARD_BYTES = 256 << 20  # ~256 MB per shard: few files, and a shard buffer fits easily in memory


def cache_key(adapter, samples, preprocess) -> str:
    """Hash of everything that determines the cached pixels."""
    root = Path(adapter.root)
    h = hashlib.sha256()
    h.update(f"{CACHE_FORMAT}\n{adapter.identity()}\n{preprocess.geometry_key()}\n".encode())
    stat = getattr(adapter, "stat_sample", None)  # adapters whose images are not files (Hub shards) say how
    for sample in samples:
        try:
            st = stat(sample.path) if stat is not None else os.stat(root / sample.path)
        except OSError as exc:
            raise DataError(f"dataset '{adapter.label}': cannot read {shown(root / sample.path)} ({exc}). "
                            f"Run `rib datasets check {adapter.label}`.") from exc
        h.update(name_bytes(f"{sample.path}\0{st.st_size}\0{st.st_mtime_ns}\n"))
    return h.hexdigest()[:32]


def read_manifest(folder: Path, key: str, count: int) -> dict | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key or manifest.get("count") != count:
        return None
    if not all((folder / name).is_file() for name in manifest.get("shards", [])):
        return None
    return manifest


def _shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def _complete_shard(path: Path, key: str, start: int, count: int) -> dict[int, str] | None:
    """A shard left by an earlier (interrupted) build with the same key: its unreadable positions, or None."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("key") != key or meta.get("start") != str(start) or meta.get("count") != str(count):
                return None
            if f.get_slice("images").get_shape()[0] != count:
                return None
            return {int(p): e for p, e in json.loads(meta.get("unreadable", "{}")).items()}
    except Exception:  # any damage at all means "decode this shard again"
        return None


def build_cache(adapter, samples, preprocess, folder: Path, key: str, shard_images: int, workers: int, progress,
           strict: bool) -> tuple[dict, int]:
    folder.mkdir(parents=True, exist_ok=True)
    n, size = len(samples), preprocess.input_size
    n_shards = max(1, -(-n // shard_images))
    errors: dict[int, str] = {}
    todo = []
    for index in range(n_shards):
        start, count = index * shard_images, min(shard_images, n - index * shard_images)
        previous = _complete_shard(folder / _shard_name(index), key, start, count)
        if previous is None:
            todo.append(index)
        else:
            errors.update(previous)
    done = n - sum(min(shard_images, n - i * shard_images) for i in todo)
    if progress is not None:
        progress(done, n)

    decoded = 0
    # Chunks never straddle two shards, so each shard is filled by whole chunks.
    chunks = [chunk for i in todo
              for chunk in in_chunks(np.arange(i * shard_images, min(n, (i + 1) * shard_images)), DECODE_CHUNK)]
    batches = decode_batches(adapter, samples, preprocess, chunks, workers)
    for index in todo:
        start, count = index * shard_images, min(shard_images, n - index * shard_images)
        images = torch.zeros((count, 3, size, size), dtype=torch.uint8)
        readable = torch.ones(count, dtype=torch.uint8)
        shard_errors = {}
        filled = 0
        while filled < count:
            got, batch, batch_errors = next(batches)
            for position, error in batch_errors:
                if strict:
                    raise unreadable_error(adapter, samples, position, error)
                shard_errors[position] = error
                readable[position - start] = 0
            if batch is not None:
                images[torch.from_numpy(got - start)] = batch
            filled += len(got) + len(batch_errors)
            decoded += len(got) + len(batch_errors)
            if progress is not None:
                progress(done + decoded, n)
        metadata = {"key": key, "start": str(start), "count": str(count), "unreadable": json.dumps(shard_errors)}
        atomic_write(folder / _shard_name(index),
                     lambda tmp: save_file({"images": images, "readable": readable}, tmp, metadata=metadata))
        errors.update(shard_errors)

    manifest = {
        "format": CACHE_FORMAT, "key": key, "count": n, "shard_images": shard_images,
        "shards": [_shard_name(i) for i in range(n_shards)],
        "unreadable": {str(p): errors[p] for p in sorted(errors)},
        "dataset": adapter.label, "adapter": adapter.identity(), "geometry": preprocess.geometry_key(),
        "bytes": n * 3 * size * size,
        "checksums": shard_checksums(folder, [_shard_name(i) for i in range(n_shards)]),
    }
    atomic_write(folder / "manifest.json",
                 lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1), encoding="utf-8"))
    return manifest, decoded

