"""Decoding image files into uint8 tensors in DataLoader workers, by chunks of positions.

A broken image file gives an error string for its position instead of an exception, so the caller decides:
skip it and count it, or (strict) stop with a DataError that names the file.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rib_core.data.names import shown
from rib_core.errors import DataError

DECODE_CHUNK = 16  # images per DataLoader task while decoding
# What a broken image file raises in PIL; anything else is a bug and propagates.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


class _DecodeDataset(torch.utils.data.Dataset):
    def __init__(self, adapter, paths: list[str], preprocess):
        self.adapter, self.paths, self.preprocess = adapter, paths, preprocess

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, position: int):
        try:
            return position, self.preprocess.to_uint8(self.adapter.open_image(self.paths[position])), ""
        except DECODE_ERRORS as exc:
            return position, None, f"{type(exc).__name__}: {exc}"


def _collate(items):
    """-> (positions decoded, their images stacked or None, [(position, error)] for the others)."""
    good = [(p, image) for p, image, _ in items if image is not None]
    errors = [(p, error) for p, image, error in items if image is None]
    positions = np.array([p for p, _ in good], dtype=np.int64)
    images = torch.stack([image for _, image in good]) if good else None
    return positions, images, errors


def decode_batches(adapter, samples, preprocess, chunks, workers: int, pin_memory: bool = False):
    dataset = _DecodeDataset(adapter, [s.path for s in samples], preprocess)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=[[int(p) for p in chunk] for chunk in chunks], num_workers=workers,
        collate_fn=_collate, pin_memory=pin_memory, prefetch_factor=4 if workers else None)
    return iter(loader)


def unreadable_error(adapter, samples, position: int, error: str) -> DataError:
    return DataError(f"dataset '{adapter.label}': cannot decode {shown(Path(adapter.root) / samples[position].path)} "
                     f"({error}). Replace the file, or run without strict to skip unreadable images.")


def in_chunks(positions: np.ndarray, size: int) -> list[np.ndarray]:
    return [positions[i:i + size] for i in range(0, len(positions), size)]
