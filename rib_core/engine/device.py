"""Which torch device a run uses."""

from __future__ import annotations

import torch

from rib_core.errors import RibError, UsageError


def select_device(requested: str | None = "auto") -> torch.device:
    if requested in (None, "auto"):
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise UsageError(f"unknown device '{requested}': {exc}. Use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RibError("--device cuda was asked for, but torch sees no CUDA GPU. Use --device cpu.")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device
