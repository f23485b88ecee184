"""Evaluation: uint8 batches -> device -> normalise -> model -> dataset classes -> top-5. No per-image Python."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

TOPK = 5


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@contextlib.contextmanager
def autocast(device: torch.device, precision: str | None = "fp32"):
    """The one autocast set-up of rib, for evaluation, training and calibration.

    "fp32" (evaluation's default, as timm's validate.py and the released code: no autocast and TF32 off on CUDA
    for the duration), "bf16" / "fp16" (autocast on the device, CPU bf16 included), or None (leave torch's own
    defaults alone: training without `amp`).
    """
    if precision is None:
        yield
        return
    if precision is True or precision is False:  # the old `amp` flag
        precision = "bf16" if precision and device.type == "cuda" else "fp32"
    dtype = PRECISIONS[precision]
    if dtype is not None:
        with torch.autocast(device.type, dtype=dtype):
            yield
        return
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@torch.inference_mode()
def predict(model, preprocess, images, positions: np.ndarray, class_map, device: torch.device, batch_size: int,
            precision: str = "fp32", on_batch=None) -> dict:
    """Top-5 predictions over the dataset's classes for the images at `positions`.

    Results stay on the device until the end (no per-batch synchronisation). On CUDA out-of-memory the batch
    is halved and the evaluation goes on from the batch that failed (as timm's validate.py retries, without
    redoing finished batches); the batch size that worked is returned so the record shows it.
    """
    model.eval()
    positions = np.asarray(positions)
    k = min(TOPK, class_map.num_classes)
    normalize = preprocess.normalizer(device)
    project = class_map.projector(device)
    pin = device.type == "cuda"
    order = {int(p): i for i, p in enumerate(positions)}
    idx_out, prob_out, pos_out = [], [], []
    done = 0  # positions[:done] are evaluated (or unreadable)
    while True:
        try:
            for batch, pos in images.batches(positions[done:], batch_size, pin_memory=pin):
                x = normalize(batch.to(device, non_blocking=pin))
                with autocast(device, precision):
                    logits = model(x)
                prob, idx = project(logits.float()).softmax(dim=1).topk(k, dim=1)
                idx_out.append(idx.to(torch.int32))
                prob_out.append(prob)
                pos_out.append(np.asarray(pos))
                done = order[int(pos[-1])] + 1
                if on_batch is not None:
                    on_batch(len(pos))
            break
        except torch.OutOfMemoryError:
            if batch_size <= 1:
                raise
            batch_size //= 2
            torch.cuda.empty_cache()
    if not pos_out:
        empty = torch.zeros((0, k))
        return {"top_idx": empty.to(torch.int32), "top_prob": empty, "positions": torch.zeros(0, dtype=torch.int64),
                "batch_size": batch_size}
    return {"top_idx": torch.cat(idx_out).cpu(), "top_prob": torch.cat(prob_out).float().cpu(),
            "positions": torch.from_numpy(np.concatenate(pos_out).astype(np.int64)), "batch_size": batch_size}
