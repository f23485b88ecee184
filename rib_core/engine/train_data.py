"""The fine-tuning data a strategy sees: cached uint8 images, shuffled per epoch, normalised on the device."""

from __future__ import annotations

import functools

import numpy as np
import torch

from rib_core.engine import distributed
from rib_core.errors import RibError


class TrainData:
    """Shuffled fine-tuning batches, normalised on the device; the order is a function of (seed, epoch).

    Only images the source can decode are shuffled and counted: an unreadable image is skipped (and counted in
    `unreadable`) before any epoch, so `batches_per_epoch` is exactly what `epoch` yields, cached or streamed,
    and the order does not depend on which images this process happened to decode before.
    """

    def __init__(self, images, positions, labels, preprocess, device, batch_size, seed, identity, class_map):
        self.images, self.requested, self.labels = images, np.asarray(positions), labels
        self.preprocess, self.device, self.batch_size, self.seed = preprocess, device, batch_size, seed
        self.identity, self.class_map = identity, class_map

    @functools.cached_property
    def positions(self) -> np.ndarray:
        """The requested positions the image source can decode (found once, on first use: a strategy that does
        not train never pays for it)."""
        return self.images.readable_positions(self.requested)

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.positions) // self.batch_size)

    @property
    def unreadable(self) -> int:
        """How many requested images are skipped because they cannot be decoded."""
        return len(self.requested) - len(self.positions)

    def epoch(self, index: int):
        order = self.positions[np.random.default_rng([self.seed, index]).permutation(len(self.positions))]
        batch_size = self.batch_size
        if distributed.active():
            # Each rank takes an equal strided slice of every global batch; DDP averages their gradients.
            world = distributed.world_size()
            if self.batch_size % world:
                raise RibError(f"[training] batch_size {self.batch_size} is not divisible by the {world} "
                               "processes torchrun started; choose a multiple of the process count.")
            batch_size = self.batch_size // world
            order = np.concatenate([distributed.batch_slice(order[k:k + self.batch_size])
                                    for k in range(0, len(order), self.batch_size)] or [order[:0]])
        pin = self.device.type == "cuda"
        normalize = self.preprocess.normalizer(self.device)
        for batch, pos in self.images.batches(order, batch_size, pin_memory=pin):
            x = normalize(batch.to(self.device, non_blocking=pin))
            y = torch.as_tensor(self.labels[np.asarray(pos)], dtype=torch.long).to(self.device)
            yield x, y
