"""The diagonal Fisher information of a model, estimated from per-sample gradients, and its on-disk cache.

F_i = mean over images x of (d/d theta_i log p(y | x))^2, with y the image's own label ("empirical") or drawn
from the model's predictive distribution p(. | x) ("sampled": an unbiased estimate of the true Fisher; the
empirical one is a common but biased approximation, see Kunstner et al., 2019).

Per-sample gradients come from one backward pass per image. torch.func's vmap would batch them, but it has no
batching rule for the fused attention kernels ViTs use and falls back to the same per-image loop, at the cost of
a copy of the gradients per image in flight; the plain loop is as fast and needs no extra memory. The Fisher is
computed once per (model, anchor set, samples, label mode) and cached, so its cost is paid once for all D_i.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F

LABEL_MODES = ("empirical", "sampled")
SAMPLING_SEED = 0  # fixed, so a cached "sampled" Fisher does not depend on which cell computed it


def diagonal_fisher(model, batches, project, n_samples: int, labels: str = "sampled") -> tuple[dict, int]:
    """({parameter name: Fisher diagonal (float32)}, images used) over the first `n_samples` images of `batches`.

    `batches` yields (normalised images, label indices); `project` maps the model's logits onto the labels'
    classes (a ClassMap's project). Parameters that do not require grad are left out. The model is evaluated
    in eval mode (no dropout) and left in the mode it was in.
    """
    if labels not in LABEL_MODES:
        raise ValueError(f"labels must be one of {LABEL_MODES}, got {labels!r}")
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad])
    sums = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    generator = None
    seen = 0
    was_training = model.training
    model.eval()
    try:
        for images, targets in batches:
            for i in range(images.shape[0]):
                if seen >= n_samples:
                    break
                log_probs = F.log_softmax(project(model(images[i:i + 1])).float(), dim=1)[0]
                if labels == "empirical":
                    y = targets[i]
                else:
                    if generator is None:
                        generator = torch.Generator(device=log_probs.device).manual_seed(SAMPLING_SEED)
                    y = torch.multinomial(log_probs.detach().exp(), 1, generator=generator)[0]
                grads = torch.autograd.grad(log_probs[y], params, allow_unused=True)
                for total, grad in zip(sums, grads):
                    if grad is not None:
                        total.add_(grad.float().pow(2))
                seen += 1
            if seen >= n_samples:
                break
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("no images to estimate the Fisher information from")
    return {name: total / seen for name, total in zip(names, sums)}, seen


def cache_path(cache_dir: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_dir) / "ewc-fisher" / f"{digest}.safetensors"


def load_cached(path: Path, key: dict, shapes: dict) -> dict | None:
    """The cached Fisher if `path` holds one for exactly this key and these parameter shapes, else None."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            if json.loads((f.metadata() or {}).get("key", "null")) != json.loads(json.dumps(key)):
                return None
            fisher = {name: f.get_tensor(name) for name in f.keys()}
    except (OSError, ValueError, RuntimeError, SafetensorError):  # missing, torn or foreign: recompute
        return None
    if {n: tuple(t.shape) for n, t in fisher.items()} != {n: tuple(s) for n, s in shapes.items()}:
        return None
    return fisher


def save_cached(path: Path, key: dict, fisher: dict, images: int) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file({n: t.detach().cpu().contiguous() for n, t in fisher.items()}, str(tmp),
              metadata={"key": json.dumps(key, sort_keys=True), "images": str(images)})
    os.replace(tmp, path)
