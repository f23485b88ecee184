"""The hooks a rib plugin implements: one per kind of thing it provides.

Every hook receives one argument, `register`, a callback. Call it once per thing your plugin provides:

    register(name, target, description="one line", *, <the kind's keywords>)

- `name`: the name users write in benchmarks.toml (e.g. "timm:*", "imagenet-r", "lora").
  A name ending in "*" is a prefix pattern: "timm:*" serves every name starting with "timm:".
- `target`: a string "package.module:attribute" naming the object. It is imported only when a suite uses it,
  so `rib --help`, `rib plugins` and `rib list` stay fast: never import torch at your plugin's top level.
- `description`: one line shown by `rib list`.

Each kind's keywords and what its target must be are declared once, in rib_core/contract.py; docs/plugins.md's
tables are generated from there. An unknown keyword refuses the plugin (with the nearest valid one), and a target
that is not what its kind needs is refused when it is imported, naming the plugin. New keywords may be added in
later versions; existing ones keep their meaning.

Plugins import `hookimpl` from `rib_core.api`, and may annotate `register` with `rib_core.api.RegisterModels`,
`RegisterDatasets`, ... (the types below). The 0.1 names `register_backbones` and `register_sinks` still work
until 0.3.0, with a deprecation warning (rib_core/deprecated.py).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pluggy

from rib_core import deprecated

if TYPE_CHECKING:
    from rib_core.contract import (RegisterDatasets, RegisterFormats, RegisterLaunchers, RegisterMetrics,
                                   RegisterModels, RegisterStrategies)

hookspec = pluggy.HookspecMarker("rib")
HOOKIMPL = pluggy.HookimplMarker("rib")


def __getattr__(name: str):
    # 0.1 plugins wrote `from rib_core.hookspecs import hookimpl`; keep them working while pointing at the API.
    if name == "hookimpl":
        warnings.warn(deprecated.HOOKSPECS_HOOKIMPL.message(), deprecated.RibDeprecationWarning, stacklevel=2)
        return HOOKIMPL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookspec
def register_models(register: RegisterModels) -> None:
    """Register pretrained models (backbone loaders): the names a suite lists under `models`.

    Target: a function `load(name, *, weights, options) -> rib_core.api.Backbone`. `name` is the full name the
    user wrote (useful for "prefix:*" patterns); `weights` a local file (load it with
    `rib_core.api.load_state_dict_file`) that replaces the hub weights when given, else None; `options` the
    suite entry's other keys, already checked against `load.accepted_options`. Raise `rib_core.api.RibError`
    saying what to do when weights are unavailable. Keywords: weights_status=, identity=, label_space=,
    check_name=, architecture= (docs/plugins.md).
    """


@hookspec
def register_datasets(register: RegisterDatasets) -> None:
    """Register dataset adapters.

    Target: a subclass of `rib_core.api.DatasetAdapter` (usually `rib_core.api.FolderAdapter`), instantiated as
    `Adapter(label, root, options)`; rib uses its `class_map()`, `samples()`, `open_image()`, `stat_sample()`,
    `accuracy()` and `check()`.
    """


@hookspec
def register_strategies(register: RegisterStrategies) -> None:
    """Register fine-tuning strategies.

    Target: a subclass of `rib_core.api.Strategy`, instantiated as `Strategy(params)` with the suite's
    hyper-parameters (checked against its `accepted_options`). rib runs the training loop and calls the
    strategy's `setup`, `extra_loss` and `finalize`.
    """


@hookspec
def register_metrics(register: RegisterMetrics) -> None:
    """Register metrics computed from stored results.

    Target: a subclass of `rib_core.api.Metric`, instantiated without arguments. Its `compute(results)` receives
    a `rib_core.api.Results` (every stored evaluation, per-image predictions included) and returns rows for the
    report; it never runs a model.
    """


@hookspec
def register_formats(register: RegisterFormats) -> None:
    """Register report formats (`rib report --format NAME`).

    Target: a function `write(report, stream) -> None` that writes the report dict (the structure of
    `rib report --format json`, docs/plugins.md) to a text stream.
    """


@hookspec
def register_launchers(register: RegisterLaunchers) -> None:
    """Register launchers: where `rib bench --launcher NAME` runs the grid's jobs (SLURM, Ray, ...).

    Target: a subclass of `rib_core.api.Launcher`: rib groups the planned cells into `rib_core.api.Job`s, calls
    `submit(job, worker)` for each ready one and polls it; the job runs `rib_core.api.run_job(worker, job.keys)`
    wherever the launcher puts it. Keyword `arguments=`: a function `add_arguments(group)` adding the launcher's
    own options to `rib bench` (it runs for `rib --help`: never import the scheduler's package there).
    """


# -- deprecated names (0.1): same arguments, same meaning ---------------------------------------------------------
@hookspec(warn_on_impl=deprecated.HOOK_REGISTER_BACKBONES.warning())
def register_backbones(register: RegisterModels) -> None:
    """Deprecated name of `register_models`."""


@hookspec(warn_on_impl=deprecated.HOOK_REGISTER_SINKS.warning())
def register_sinks(register: RegisterFormats) -> None:
    """Deprecated name of `register_formats`."""
