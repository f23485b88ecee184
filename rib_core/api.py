"""The public API for rib plugins: the one module a plugin imports.

Everything a model, dataset, strategy, metric, report-format or launcher plugin needs is here, and only what is here
is promised to stay stable (names are only ever added; a name that must go is first deprecated for a release).
Everything else in `rib_core` is internal and may change without notice. docs/plugins.md documents this module.

Importing it is cheap (no torch, timm or open_clip): plugin hook modules import it at their top level.
The few helpers that need timm are functions that import it when called.

A plugin's tests also use `rib_core.testing`: a pytest plugin that rib-core's `pytest11` entry point loads in
every test session (fixtures `rib_isolated`, `register_plugin`, `run_rib`, `toy_suite`, ...; docs/plugins.md).
"""

from __future__ import annotations

from rib_core.contract import (RegisterDatasets, RegisterFormats, RegisterLaunchers, RegisterMetrics, RegisterModels,
                               RegisterStrategies)
from rib_core.data.base import CheckResult, ClassMap, DatasetAdapter, Sample
from rib_core.data.folders import FolderAdapter
from rib_core.data.sources import Archive, Source
from rib_core.engine.jobs import Job, Worker, run_job
from rib_core.engine.launch import Launcher
from rib_core.errors import ConfigError, DataError, PluginError, RibError, UnknownNameError, UsageError
from rib_core.hookspecs import HOOKIMPL as hookimpl
from rib_core.metrics.base import Metric
from rib_core.models.base import Backbone, file_digest, load_state_dict_file, state_dict_digest
from rib_core.models.timm_aliases import TimmAliases
from rib_core.options import Option, option_values
from rib_core.paths import cache_dir
from rib_core.preprocess import Preprocess
from rib_core.strategies import trainable as trainable_extra
from rib_core.strategies.base import Strategy, TrainContext, TrainData
from rib_core.training import TrainSettings

__all__ = [
    # hooks
    "hookimpl",
    "RegisterModels", "RegisterDatasets", "RegisterStrategies", "RegisterMetrics", "RegisterFormats",
    "RegisterLaunchers",
    # contracts
    "Option", "option_values",
    "Backbone", "Preprocess",
    "DatasetAdapter", "FolderAdapter", "ClassMap", "Sample", "CheckResult", "check_adapter", "Source", "Archive",
    "Strategy", "TrainContext", "TrainData", "TrainSettings", "trainable_extra",
    "Metric", "Results", "Evaluation",
    "Launcher", "Job", "Worker", "run_job",
    # errors
    "RibError", "UsageError", "ConfigError", "DataError", "PluginError", "UnknownNameError",
    # helpers
    "load_state_dict_file", "file_digest", "state_dict_digest", "hub_file_digest", "cache_dir",
    "paired_mean_interval",
    "load_timm_model", "timm_weights_status", "timm_architecture", "options_suffix", "TimmAliases",
]

# What a metric receives (they import numpy: loaded on first use, so that importing this module stays cheap).
_LAZY = {"Results": "rib_core.engine.results", "Evaluation": "rib_core.engine.results"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_adapter(adapter, deep: bool = False) -> CheckResult:
    """The standard `check()` of a folder dataset: counts and classes against the adapter's `expected_images`
    and `expected_classes`; with `deep=True` every image is opened. A `DatasetAdapter.check` can return this."""
    from rib_core.data.check import check_adapter as check

    return check(adapter, deep=deep)


def load_timm_model(model_name: str, *, weights: str | None = None, options: dict | None = None,
                    label: str | None = None) -> Backbone:
    """A `Backbone` for any timm model, loaded exactly as `timm.create_model(model_name, pretrained=True)` loads it
    (or from the local `weights` file). `label` is the name your plugin registered, used in messages."""
    from rib_core.models.timm_loader import load_timm_model as load

    return load(model_name, weights=weights, options=options, label=label)


def timm_weights_status(model_name: str, *, weights: str | None = None, label: str | None = None) -> str | None:
    """None when `model_name`'s weights can be loaded without a download, else one line saying what is missing.
    A `weights_status` function for timm-backed names is one call to this."""
    from rib_core.models.timm_loader import timm_weights_status as status

    return status(model_name, weights=weights, label=label)


def timm_architecture(model_name: str, *, options: dict | None = None, label: str | None = None):
    """(untrained model, input size) of a timm model, built without any download: an `architecture` function for
    timm-backed names (`rib bench --dry-run` times it and counts its parameters) is one call to this."""
    from rib_core.models.timm_loader import timm_architecture as build

    return build(model_name, options=options, label=label)


def paired_mean_interval(differences, clusters=None, weights=None, replicates: int = 1000, seed: int = 0,
                         confidence: float = 0.95) -> tuple[float, float]:
    """A cluster-bootstrap percentile interval for the (weighted) mean of paired per-image differences, as rib's
    own RI intervals are built (`clusters`: per-image resampling units, e.g. ImageNet-C's source images)."""
    from rib_core.metrics.bootstrap import paired_mean_interval as interval

    return interval(differences, clusters=clusters, weights=weights, replicates=replicates, seed=seed,
                    confidence=confidence)


def hub_file_digest(path) -> str:
    """`file_digest(path)` for a file in the Hugging Face cache, read off its blob name instead of re-hashing
    gigabytes on every load."""
    from rib_core.models.timm_loader import hub_file_digest as digest

    return digest(path)


def options_suffix(options: dict | None) -> str:
    """A short, stable suffix for a backbone identity from options that change the architecture ("" if none)."""
    from rib_core.models.timm_loader import model_kwargs_suffix

    return model_kwargs_suffix(options or {})
