"""Evaluation: uint8 batches -> device -> normalise -> model -> dataset classes -> top-5. No per-image Python."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

TOPK = 5


def autocast(device: torch.device, enabled: bool):
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def predict(model, preprocess, images, positions: np.ndarray, class_map, device: torch.device, batch_size: int,
            amp: bool = True, counter=None, on_batch=None) -> dict:
    """Top-5 predictions over the dataset's classes for the images at `positions`.

    On CUDA out-of-memory the batch is halved and the evaluation retried (as timm's validate.py does); the
    batch size that worked is returned so the record shows it.
    """
    while True:
        try:
            return _predict(model, preprocess, images, positions, class_map, device, batch_size, amp, counter, on_batch)
        except torch.OutOfMemoryError:
            if batch_size <= 1:
                raise
            batch_size //= 2
            torch.cuda.empty_cache()


def normalizer(preprocess, device: torch.device):
    """uint8 batch on `device` -> float32 normalised as `preprocess.normalize` does, bit for bit.

    The mean/std tensors are made once, not per batch (on CUDA each creation is a blocking host-to-device
    copy), and the arithmetic runs in place on the one float copy: 2.5x faster than `preprocess.normalize`
    on a CPU (benchmarks/bench_eval_path.py, "deliver cache").
    """
    mean = torch.tensor(preprocess.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(preprocess.std, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255
    return lambda batch: batch.to(torch.float32, copy=True).sub_(mean).div_(std)  # copy: never the caller's tensor


def _predict(model, preprocess, images, positions, class_map, device, batch_size, amp, counter, on_batch) -> dict:
    model.eval()
    k = min(TOPK, class_map.num_classes)
    idx_out, prob_out, pos_out = [], [], []
    non_blocking = device.type == "cuda"
    normalize = normalizer(preprocess, device)
    for batch, pos in images.batches(positions, batch_size):
        if non_blocking:
            batch = batch.pin_memory()
        x = normalize(batch.to(device, non_blocking=non_blocking))
        with autocast(device, amp):
            logits = model(x)
        logits = class_map.project(logits.float())
        prob, idx = logits.softmax(dim=1).topk(k, dim=1)
        idx_out.append(idx.to(torch.int32).cpu())
        prob_out.append(prob.to(torch.float32).cpu())
        pos_out.append(torch.as_tensor(np.asarray(pos), dtype=torch.int64))
        if counter is not None:
            counter["image_forwards"] += len(pos)
        if on_batch is not None:
            on_batch(len(pos))
    if not pos_out:
        empty = torch.zeros((0, k))
        return {"top_idx": empty.to(torch.int32), "top_prob": empty, "positions": torch.zeros(0, dtype=torch.int64),
                "batch_size": batch_size}
    return {"top_idx": torch.cat(idx_out), "top_prob": torch.cat(prob_out), "positions": torch.cat(pos_out),
            "batch_size": batch_size}


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
