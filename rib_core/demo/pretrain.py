"""Pretraining the demo's two backbones on the spot: deterministic, small, a few seconds on a laptop CPU.

The two recipes differ only in their data, as the paper's backbones mostly do:

- "narrow": the source style only (clean flat shapes on plain backgrounds): an "ImageNet-1k" model.
- "broad": more images, a third in the source style and the rest in randomly mixed styles (textures, outlines,
  greyscale, inversions, corruptions): an "ImageNet-21k / web-scale" model. It never sees the evaluation
  domains' own images nor their recipes (photo, sketch, cartoon, drawing and noise are drawn by other code).

Pretraining images come from RNG streams the evaluation domains never use, so no evaluation image is trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from rib_core.demo import render
from rib_core.demo.render import CLASS_NAMES

NUM_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True)
class Recipe:
    """What one pretrained backbone saw and how it trained (AdamW, linear warm-up, cosine decay)."""

    styles: tuple[tuple[str, float], ...]  # (style, share of the images)
    images_per_class: int
    epochs: int
    batch_size: int = 32  # small batches: tiny models on a CPU learn more per second from more steps
    lr: float = 7e-4  # 1.5e-3 and above sometimes diverges on the broad data
    weight_decay: float = 0.05
    warmup_fraction: float = 0.3
    clip_grad: float = 1.0
    seed: int = 0

    def scaled(self, images_per_class: int, epochs: int) -> "Recipe":
        """The same recipe with less data or fewer epochs (tests)."""
        return replace(self, images_per_class=images_per_class, epochs=epochs)


# Both see about 50k images in all; "broad" sees more distinct ones, in many more styles.
RECIPES = {
    "narrow": Recipe(styles=(("source", 1.0),), images_per_class=1200, epochs=4),
    "broad": Recipe(styles=(("source", 1 / 3), ("varied", 2 / 3)), images_per_class=1800, epochs=3),
}


def describe(variant: str) -> str:
    """One line for the record: what the backbone was pretrained on."""
    recipe = RECIPES[variant]
    mix = " + ".join(f"{round(share * 100)}% {style}" for style, share in recipe.styles)
    return f"{recipe.images_per_class * NUM_CLASSES} images ({mix}), {recipe.epochs} epochs"


def pretraining_images(recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """The recipe's training set: uint8 images (N, 32, 32, 3) and labels (N,), in a fixed order."""
    images, labels = [], []
    for style, share in recipe.styles:
        count = round(recipe.images_per_class * share)
        stream = render.PRETRAIN_STREAM_OFFSET + render.STREAMS[style]
        for label in range(NUM_CLASSES):
            images.append(render.render_array(style, [label] * count, range(count), recipe.seed, stream))
            labels.append(np.full(count, label, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def normalise(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) -> float (N, 3, 32, 32) with mean/std 0.5, as the backbones' Preprocess says."""
    return images_uint8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def train(model: torch.nn.Module, recipe: Recipe, progress=None) -> torch.nn.Module:
    """Train `model` on the recipe's images. Deterministic for a given torch build: seeded, one thread."""
    images, labels = pretraining_images(recipe)
    inputs, targets = torch.from_numpy(images), torch.from_numpy(labels)  # uint8 until batched: 4x less memory
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(inputs) / recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    warmup = max(1, int(recipe.warmup_fraction * total))

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    threads = torch.get_num_threads()
    # One thread: these matrices are too small to gain from more, a busy machine makes extra threads spin, and
    # single-threaded kernels give the same weights (and so the same cached identity) on every run.
    torch.set_num_threads(1)
    try:
        model.train()
        for epoch in range(recipe.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(inputs), recipe.batch_size):
                batch = order[start:start + recipe.batch_size]
                loss = F.cross_entropy(model(normalise(inputs[batch])), targets[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad)
                optimizer.step()
                schedule.step()
            if progress is not None:
                progress(epoch + 1, recipe.epochs, float(loss.detach()))
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model
