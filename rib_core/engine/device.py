"""Which torch device a run uses."""

from __future__ import annotations

import torch

from rib_core.errors import UsageError


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
            raise UsageError("--device cuda was asked for, but torch sees no CUDA GPU. Use --device cpu.")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    check_computes(device)
    return device


def check_computes(device: torch.device) -> None:
    """Refuse, before any work, a device torch names but cannot compute on here: `mps` without Apple's GPU
    support, `meta` (shapes only, no data), `cuda:7` on a 2-GPU machine. One tiny computation tells them all."""
    if device.type == "meta":
        raise UsageError("--device meta holds shapes but no data: nothing can be evaluated on it. Use --device "
                         "auto, cpu, cuda or mps.")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and (mps is None or not mps.is_available()):
        raise UsageError("--device mps: this torch has no usable MPS backend here (Apple-silicon GPUs, macOS 12.3 "
                         "or later). Use --device auto (cuda, else mps, else cpu) or cpu.")
    try:
        (torch.ones(2, device=device) * 2).cpu()
    except Exception as exc:  # RuntimeError, AssertionError ("Torch not compiled with CUDA"), ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first if len(first) <= 160 else first[:157] + "..."
        raise UsageError(f"--device {device}: torch cannot compute on it here ({first}). Use --device auto "
                         f"(cuda, else mps, else cpu) or one this machine has.") from None
