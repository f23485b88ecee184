"""What a backbone loader hands to rib, and what its registration declares.

A loader (registered through `register_models`) returns a `Backbone`: a torch module that maps normalised
images (B, 3, S, S) to logits over its label space (ImageNet-1k: 1000 classes), the preprocessing taken from the
model's own pretrained config, which parameters form the classifier head, and an identity string that changes
whenever the weights change (recorded with every result). What enters the cell keys is declared by the
registration (`identity=`, `label_space=`): rib knows it before any model loads.
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
    identity: str  # "<name>@<weights digest>": changes whenever the weights change; recorded with every result
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


def label_space_problems(registration, model_label: str, datasets: list[tuple[str, str]]) -> list[str]:
    """One line per label space of the suite's `datasets` ((label, label space) pairs) that the model does not
    predict. A model registered without `label_space=` is taken as ImageNet-1k; its loader may still set
    `Backbone.label_space` itself, as rib 0.1 loaders did, so the line says how to declare it instead."""
    space = registered_label_space(registration)
    problems = []
    for other in sorted({s for _, s in datasets} - {space}):
        users = ", ".join(label for label, s in datasets if s == other)
        fix = (f"pair each model with datasets of its label space (a plugin declares its model's with "
               f"register(..., label_space=...))")
        if "label_space" not in registration.extra:
            fix = (f"{fix}. Plugin '{registration.plugin}' registered '{registration.name}' without label_space=; "
                   f"if its loader sets Backbone.label_space = \"{other}\" (rib 0.1 plugins did), declare it "
                   f"in the registration instead: register(\"{registration.name}\", ..., label_space=\"{other}\")")
        problems.append(f"model '{model_label}' predicts the label space '{space}', but dataset(s) {users} are "
                        f"labelled in '{other}': {fix}.")
    return problems


def keyed_by_name_only(registration) -> bool:
    """Whether a model's cells are keyed by its name and options alone, when the suite gives no weights file: its
    registration gives no `identity=`, and no `weights_status=` either (which says its weights are downloaded
    from a hub by name: the name pins them). Weights a plugin builds or keeps itself need `identity=`."""
    return not registration.extra.get("identity") and not registration.extra.get("weights_status")


def identity_warning(registrations) -> str | None:
    """`rib plugins`' note on a plugin's models whose results are keyed by name and options only, else None."""
    names = [r.name for r in registrations if r.kind == "models" and keyed_by_name_only(r)]
    if not names:
        return None
    return (f"model(s) {', '.join(names)} register neither identity= nor weights_status=: unless a suite gives "
            "weights = FILE, their results are keyed by name and options only, and are reused after the weights "
            "the loader loads change (docs/plugins.md: identity=)")


def unkeyed_models(registry, models) -> list[str]:
    """A warning per suite model (a `ModelSpec`) whose results are keyed by its name and options only (see
    `keyed_by_name_only`) and that the suite gives no `weights = FILE`: the dry run and `rib bench` print them."""
    warnings = []
    for spec in models:
        registration = registry.get("models", spec.name)
        if spec.weights is None and keyed_by_name_only(registration):
            warnings.append(f"model '{spec.label}': results are keyed by its name and options only (plugin "
                            f"'{registration.plugin}' registers no identity= and the suite gives no weights = FILE), "
                            "so they are reused even after the weights its loader loads change. Give it weights = "
                            "FILE, or register identity= in the plugin (docs/plugins.md).")
    return warnings


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
