"""What a backbone loader hands to rib.

A loader (registered through `register_models`) returns a `Backbone`: a torch module that maps normalised
images (B, 3, S, S) to logits over its label space (ImageNet-1k: 1000 classes), the preprocessing taken from the
model's own pretrained config, which parameters form the classifier head, and an identity string that changes
whenever the weights change (it goes into every cell key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rib_core.errors import RibError
from rib_core.hashing import sha256_file
from rib_core.preprocess import Preprocess

IMAGENET_1K = "imagenet-1k"


@dataclass
class Backbone:
    model: object  # torch.nn.Module: normalised float images -> (B, num_classes) logits
    preprocess: Preprocess
    head_prefixes: tuple[str, ...]  # parameter-name prefixes of the classifier head, e.g. ("head.",)
    identity: str  # "<name>@<weights digest>": changes whenever the weights change
    label_space: str | None = None  # set by rib from the registration's label_space= (default "imagenet-1k")
    num_classes: int = 1000
    info: dict = field(default_factory=dict)  # free-form facts for the record (hub name, source, ...)

    def is_head(self, param_name: str) -> bool:
        return any(param_name.startswith(p) for p in self.head_prefixes)

    def head_parameters(self):
        return [p for n, p in self.model.named_parameters() if self.is_head(n)]

    def backbone_parameters(self):
        return [p for n, p in self.model.named_parameters() if not self.is_head(n)]


def registered_label_space(registration) -> str:
    """A model's label space: declared once, by its registration (`register(..., label_space=...)`)."""
    return registration.extra.get("label_space", IMAGENET_1K)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a weights file (first 16 hex digits), for backbone identities."""
    return sha256_file(path)[:16]


def state_dict_digest(state_dict) -> str:
    """Digest of tensors' names, shapes and bytes: the identity of weights that came from a hub."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(t.dtype).encode())
        h.update(t.view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def load_state_dict_file(path: str | Path) -> dict:
    """Load weights without ever unpickling: safetensors, or torch.load(weights_only=True)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise RibError(f"weights file '{path}' does not exist. Check the 'weights' entry of your suite or --weights.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RibError(f"could not load weights '{path}' safely (weights_only=True): {exc}. "
                       "Convert it to safetensors.") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state
