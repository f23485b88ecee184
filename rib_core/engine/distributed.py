"""torch.distributed inside a cell, when launched by torchrun (WORLD_SIZE > 1).

Every rank runs every cell together: evaluation splits the images into contiguous, disjoint parts (no padding,
no image counted twice) and gathers the predictions on rank 0 in the original order; fine-tuning wraps the model
in DistributedDataParallel and gives each rank an equal slice of every global batch. Rank 0 alone writes to the
store; the others wait at a barrier after each cell. Without torchrun every function here is a no-op.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from rib_core.env import env_number


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def setup(requested_device: str) -> torch.device | None:
    """Join the process group torchrun describes; returns this rank's device, or None when not under torchrun."""
    if env_number("WORLD_SIZE", 1, whole=True, minimum=1, what="torchrun's process count") <= 1:
        return None
    local_rank = env_number("LOCAL_RANK", 0, whole=True, minimum=0, what="torchrun's process index on this node")
    use_cuda = torch.cuda.is_available() and requested_device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")


def barrier() -> None:
    if active():
        dist.barrier()


def my_part(positions: np.ndarray) -> np.ndarray:
    """This rank's contiguous share of `positions` (shares differ in size by at most one image)."""
    return np.array_split(np.asarray(positions), world_size())[rank()] if active() else positions


def gather(obj) -> list:
    """Every rank's `obj`, in rank order (a one-element list without torchrun)."""
    if not active():
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj):
    """Rank 0's `obj` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def batch_slice(positions: np.ndarray) -> np.ndarray:
    """This rank's slice of one global training batch (strided, so slices differ by at most one image)."""
    return positions[rank()::world_size()] if active() else positions


def wrap_for_training(model):
    """DistributedDataParallel around `model` when distributed (gradients averaged over ranks), else `model`."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shutdown() -> None:
    """Leave the process group together (a rank exiting while others still use it aborts under gloo)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
