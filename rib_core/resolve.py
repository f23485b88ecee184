"""Checking a parsed suite against the installed plugins, before any work: every name exists, every entry's own
options are ones its adapter, loader or strategy declares (rib_core/options.py), weights files exist.

Loads the plugins' classes, so only `rib bench` calls it (never `rib list`).
"""

from __future__ import annotations

from pathlib import Path

from rib_core.errors import ConfigError, UnknownNameError
from rib_core.options import check_options, declared_options
from rib_core.suite import DATASET_KEYS, MODEL_KEYS, STRATEGY_KEYS


def check_against_plugins(values: dict, registry, where: str) -> tuple[tuple, tuple]:
    """Check every name and every entry's own options of a suite being built (`values`: its fields) against the
    installed plugins, before any work. Returns (the strategies to run, the labels of the optional ones that are not
    installed). Loads the plugins' classes (`rib bench` only, never `rib list`).
    """
    models, datasets, reference = values["models"], values["datasets"], values.get("reference")
    for i, model in enumerate(models):
        reg = registry.get("models", model.name)
        check = reg.load_extra("check_name")
        if check:  # the loader says offline whether the name exists (timm's model list, the demo's backbones)
            check(model.name)
        if model.weights is not None and not Path(model.weights).expanduser().is_file():
            raise ConfigError(f"{where}.models[{i}].weights: no file '{model.weights}'. Give the path of a "
                              "safetensors (or torch) weights file.")
        # A loader declares its options as `load.accepted_options = {name: Option(...)}`; one that declares none
        # takes none. Loaded only when there are options to check: a loader that cannot even be imported fails its
        # own cells at run time, and the rest of the suite still runs (docs/reliability.md).
        if model.options:
            check_options(f"{where}.models[{i}]", f"model '{model.name}'", model.options,
                          declared_options(reg.load()), MODEL_KEYS)
    entries = [(f"{where}.datasets[{i}]", s) for i, s in enumerate(datasets)]
    entries += [(f"{where}.reference", reference)] if reference else []
    for at, spec in entries:
        adapter = registry.load("datasets", spec.adapter)
        check_options(at, f"dataset '{spec.adapter}'", spec.options, declared_options(adapter), DATASET_KEYS)
    kept, skipped = [], []
    for i, spec in enumerate(values["strategies"]):
        try:
            reg = registry.get("strategies", spec.name)
        except UnknownNameError:
            if spec.optional:
                skipped.append(spec.label)
                continue
            raise
        check_options(f"{where}.strategies[{i}]", f"strategy '{spec.name}'", spec.params,
                      declared_options(reg.load()), STRATEGY_KEYS)
        kept.append(spec)
    if not kept:
        raise ConfigError(f"{where}: none of its strategies is installed ({', '.join(skipped)}).")
    for name in values.get("metrics") or []:
        registry.get("metrics", name)
    return tuple(kept), tuple(skipped)
