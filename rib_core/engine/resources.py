"""What cells share within one process: the loaded backbone with its pretrained weights, the decoded images
of each dataset (cached on disk when the suite says so) and the last fine-tuned variant loaded.

One backbone is held at a time (the plan's order groups a model's cells), so memory holds one model, not all.
"""

from __future__ import annotations

import copy

from rib_core.data.base import use_cache
from rib_core.engine import distributed
from rib_core.engine.prepared import Cell, Prepared
from rib_core.errors import RibError
from rib_core.models.base import registered_label_space
from rib_core.paths import cache_dir


class Resources:
    def __init__(self, prepared: Prepared, device, workers: int = 0):
        self.prepared, self.device, self.workers = prepared, device, workers
        self._backbones: dict[str, object] = {}  # model label -> pretrained Backbone (kept on CPU state)
        self._pretrained_state: dict[str, dict] = {}
        self._images: dict[tuple, object] = {}
        self._loaded_variant: tuple | None = None
        self._variant_model = None

    def backbone(self, label: str):
        if label not in self._backbones:
            self._backbones.clear()
            self._pretrained_state.clear()
            self._loaded_variant, self._variant_model = None, None
            model = next(m for m in self.prepared.models if m.label == label)
            registration = self.prepared.registry.get("models", model.spec.name)
            backbone = registration.load()(model.spec.name, weights=model.spec.weights,
                                           options=dict(model.spec.options))
            backbone.label_space = backbone_label_space(registration, backbone)
            backbone.model.to(self.device).eval()
            self._pretrained_state[label] = {k: v.detach().cpu().clone() for k, v in backbone.model.state_dict().items()}
            self._backbones[label] = backbone
        return self._backbones[label]

    def images(self, ds, preprocess):
        from rib_core.data.images import open_images

        key = (ds.label, preprocess.geometry_key())
        if key not in self._images:
            setting = self.prepared.suite.cache if ds.spec.cache is None else ds.spec.cache
            cache = cache_dir() / "images" if use_cache(setting, ds.adapter, preprocess.input_size) else None

            def open_():
                return open_images(ds.adapter, ds.samples, preprocess, cache, workers=self.workers,
                                   strict=self.prepared.suite.strict_images)

            if cache is not None and distributed.active():
                # Rank 0 builds the shared cache; the others then only read it.
                if distributed.is_main():
                    self._images[key] = open_()
                distributed.barrier()
                if not distributed.is_main():
                    self._images[key] = open_()
            else:
                self._images[key] = open_()
        return self._images[key]

    def fresh_backbone(self, label: str, state: dict):
        """A copy of the model's backbone carrying `state` (the pretrained one stays untouched)."""
        base = self.backbone(label)
        backbone = copy.copy(base)
        backbone.model = copy.deepcopy(base.model)
        backbone.model.load_state_dict(state)
        return backbone

    def pretrained_state(self, label: str) -> dict:
        """The model's pretrained weights (CPU tensors), loading the model if needed."""
        self.backbone(label)
        return self._pretrained_state[label]

    def variant_model(self, cell: Cell, store):
        """The fine-tuned variant a post-evaluation evaluates, from the store (kept while the next cell wants it)."""
        wanted = (cell.finetune_key, cell.variant)
        if self._loaded_variant != wanted:
            from safetensors.torch import load_file

            path = store.cell_dir(cell.finetune_key) / weights_file(cell.variant)
            state = load_file(str(path))
            self._variant_model = self.fresh_backbone(cell.model, state).model.eval()
            self._loaded_variant = wanted
        return self._variant_model


def weights_file(variant: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "=._-" else "_" for ch in variant)
    return f"weights-{safe}.safetensors" if variant else "weights.safetensors"


def backbone_label_space(registration, backbone) -> str:
    """The registered label space, which the loaded Backbone carries from now on. A Backbone that names another
    one (`label_space` is rib's to set) is a plugin bug: say so instead of scoring against the wrong classes."""
    declared = registered_label_space(registration)
    if backbone.label_space not in (None, declared):
        raise RibError(f"plugin '{registration.plugin}' registered model '{registration.name}' with label space "
                       f"'{declared}', but its loader returned a Backbone with label_space='{backbone.label_space}'. "
                       f"Declare it once, in the registration: register(..., label_space=\"{backbone.label_space}\"), "
                       "and leave Backbone.label_space unset.")
    return declared


def check_label_space(backbone, class_map, label: str) -> None:
    if backbone.label_space != class_map.label_space:
        raise RibError(f"dataset '{label}' is labelled in '{class_map.label_space}', but the backbone predicts "
                       f"'{backbone.label_space}'. Pair ImageNet datasets with ImageNet-1k backbones.")
