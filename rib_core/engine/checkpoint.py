"""Epoch checkpoints of a fine-tuning run, without pickles, torn pairs detected.

`checkpoint-<step>.safetensors` has the model state, the optimizer's tensors and the RNG states;
`checkpoint.json`, written last, has everything else and the SHA-256 of that safetensors file, so a pair torn by
a crash is detected and ignored. `Run` is the progress they record (steps, losses, learning rates).
"""

from __future__ import annotations

import json
import logging
import math
import random
from pathlib import Path

import numpy as np
import torch

from rib_core.disk import atomic_write
from rib_core.engine.store import atomic_write_json
from rib_core.hashing import sha256_file

log = logging.getLogger(__name__)

CHECKPOINT_JSON = "checkpoint.json"
CHECKPOINT_FORMAT = 1


class Run:
    """Progress of one fine-tuning run: what the checkpoint and train_log.json record."""

    def __init__(self, total: int):
        self.total = total
        self.step = 0  # optimizer steps done
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.resumed_from: int | None = None

    def last_finite_loss(self) -> str:
        for i in range(len(self.losses) - 1, -1, -1):
            if math.isfinite(self.losses[i]):
                return f"{self.losses[i]:.6g} at step {i + 1}"
        return "none: the very first step failed"


def save_checkpoint(work_dir: Path, signature: dict, model, optimizer, *, epoch: int, run: Run) -> None:
    """Write checkpoint-<step>.safetensors, then checkpoint.json naming it and its SHA-256; drop older ones."""
    from safetensors.torch import save_file

    tensors = {f"model/{k}": v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for index, state in opt_state["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim/{index}/{key}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    np_state = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np_state[1].astype(np.int64))

    name = f"checkpoint-{run.step:08d}.safetensors"
    path = work_dir / name
    atomic_write(path, lambda tmp: save_file(tensors, tmp))
    meta = {
        **signature, "epoch": epoch, "step": run.step, "weights_file": name, "sha256": sha256_file(path),
        "optimizer": {"param_groups": opt_state["param_groups"], "scalars": scalars},
        "rng": {"python": _jsonable(random.getstate()), "numpy": [np_state[0], *np_state[2:]]},
        "history": {"loss": run.losses, "lr": run.lrs},
    }
    atomic_write_json(work_dir / CHECKPOINT_JSON, meta)
    for old in work_dir.glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def load_checkpoint(work_dir: Path, signature: dict) -> dict | None:
    """The checkpoint's json with its tensors under "tensors", or None if there is no valid matching one."""
    meta_path = Path(work_dir) / CHECKPOINT_JSON
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        path = Path(work_dir) / meta["weights_file"]
        if sha256_file(path) != meta["sha256"]:
            log.warning("ignoring checkpoint in %s: %s does not match its checksum (a write was interrupted); "
                        "training starts from the beginning.", work_dir, path.name)
            return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable checkpoint in %s (%s); training starts from the beginning.", work_dir, exc)
        return None
    if {k: meta.get(k) for k in signature} != json.loads(json.dumps(signature)):
        log.warning("ignoring checkpoint in %s: it was written by a different training setup.", work_dir)
        return None
    from safetensors.torch import load_file

    meta["tensors"] = load_file(str(path))
    return meta


def restore(checkpoint: dict, model, optimizer, run: Run) -> int:
    """Load model, optimizer and RNG states; returns the epoch to continue with."""
    tensors = checkpoint["tensors"]
    model_state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    model.load_state_dict(model_state, strict=True)

    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    for index, values in checkpoint["optimizer"]["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": state, "param_groups": checkpoint["optimizer"]["param_groups"]})

    torch.set_rng_state(tensors["rng/torch"])
    cuda_states = [tensors[f"rng/cuda/{i}"] for i in range(torch.cuda.device_count()) if f"rng/cuda/{i}" in tensors]
    if cuda_states and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    version, internal, gauss_next = checkpoint["rng"]["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, pos, has_gauss, cached = checkpoint["rng"]["numpy"]
    np.random.set_state((kind, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))

    run.step = checkpoint["step"]
    run.losses = list(checkpoint["history"]["loss"])
    run.lrs = list(checkpoint["history"]["lr"])
    return checkpoint["epoch"]


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
