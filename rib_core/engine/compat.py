"""Which (model, strategy) pairs of a suite can work: each strategy's `check(model)` on what rib knows of each model
before anything runs, so that visual-prompt on a model that is not a ViT is refused at planning, not after every
pre-evaluation has run (issue 30).

What a check sees is a `ModelInfo` (rib_core/strategies/base.py): at planning, the model its registration's
`architecture=` function builds on torch's meta device (module types and shapes, no memory, no weights, no
download); before a fine-tune, the loaded model. The same infos give the dry run its parameter counts and
weight sizes (rib_core/engine/estimate.py).
"""

from __future__ import annotations

import json

from rib_core.errors import RibError
from rib_core.strategies.base import ModelInfo, Strategy

# One meta build per registration, model name and options in a process (a process that registers another
# plugin under the same name, as tests and notebooks do, gets that plugin's architecture, not a stale one).
_INFOS: dict[str, ModelInfo] = {}


def planning_info(registry, spec) -> ModelInfo:
    """What the registration tells of a suite's model entry without loading it; `module` is None (and `source`
    says why) when its plugin has no `architecture=` or building it failed."""
    reg = registry.get("models", spec.name)
    key = json.dumps([reg.plugin, reg.target, reg.extra.get("architecture"), spec.name, spec.options],
                     sort_keys=True, default=str)
    if key not in _INFOS:
        _INFOS[key] = _build(registry, spec)
    info = _INFOS[key]
    return ModelInfo(spec.label, info.module, info.input_size, info.head_prefixes, info.source)


def _build(registry, spec) -> ModelInfo:
    build = registry.get("models", spec.name).load_extra("architecture")
    if build is None:
        return ModelInfo(spec.label, source=f"its plugin '{registry.get('models', spec.name).plugin}' registers no "
                                             "architecture=")
    import torch

    errors = []
    for device in ("meta", "cpu"):  # meta: no memory; a plugin whose build cannot run on meta is built for real
        try:
            with torch.device(device):
                module, size = build(spec.name, options=dict(spec.options))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}")
            continue
        return ModelInfo(spec.label, module, int(size), head_prefixes(module), "architecture")
    return ModelInfo(spec.label, source=f"its architecture= failed ({errors[-1]})")


def head_prefixes(module) -> tuple[str, ...] | None:
    """The classifier head of a timm-style model: its pretrained_cfg's `classifier`, else the module that
    `get_classifier()` returns; None when the model says neither."""
    classifier = (getattr(module, "pretrained_cfg", None) or {}).get("classifier")
    if classifier:
        names = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        return tuple(f"{n}." for n in names)
    get = getattr(module, "get_classifier", None)
    if callable(get):
        try:
            head = get()
        except Exception:
            return None
        names = [name for name, m in module.named_modules() if m is head and name]
        if names and any(True for _ in head.parameters()):
            return (f"{names[0]}.",)
    return None


def loaded_info(label: str, backbone) -> ModelInfo:
    """What a check sees of a loaded model (its Backbone)."""
    return ModelInfo(label, backbone.model, backbone.preprocess.input_size, tuple(backbone.head_prefixes),
                     "loaded model")


def has_check(strategy) -> bool:
    return type(strategy).check is not Strategy.check or strategy.trains


def problem(strategy, strategy_label: str, plugin: str, info: ModelInfo) -> str | None:
    """One pair's problem line, or None: naming the strategy, the model and what is needed."""
    try:
        why = strategy.check(info)
    except Exception as exc:  # a bug in the strategy's check: say whose, do not guess the pair is fine
        why = f"its check() failed ({type(exc).__name__}: {exc}); plugin '{plugin}' needs a fix"
    if not why:
        return None
    return f"strategy '{strategy_label}' cannot fine-tune model '{info.label}': {why.strip().rstrip('.')}."


def incompatible_pairs(registry, models, strategies) -> list[str]:
    """Problem lines for every pair of the suite's model entries and prepared strategies that cannot work."""
    checked = [s for s in strategies if has_check(s.strategy)]
    lines = []
    for spec in models if checked else ():
        info = planning_info(registry, spec)
        if info.module is None:
            continue  # known only once loaded: checked then, before the model's first fine-tune
        lines += [line for line in (problem(s.strategy, s.label, s.plugin, info) for s in checked) if line]
    return lines


def refuse_incompatible(strategy, strategy_label: str, plugin: str, model_label: str, backbone) -> None:
    """Before a fine-tune: the same check on the loaded model (models without `architecture=` meet it here)."""
    line = problem(strategy, strategy_label, plugin, loaded_info(model_label, backbone))
    if line:
        raise RibError(line)
