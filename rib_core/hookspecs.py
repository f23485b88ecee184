"""The hooks a rib plugin implements.

Every hook receives one argument, `register`, a callback. Call it once per thing your plugin provides:

    register(name, target, description="one line", **extra)

- `name`: the name users write in benchmarks.toml (e.g. "timm:*", "imagenet-r", "lora").
  A name ending in "*" is a prefix pattern: "timm:*" serves every name starting with "timm:".
- `target`: a string "package.module:attribute" naming the object. It is imported only when a suite uses it,
  so `rib --help`, `rib plugins` and `rib list` stay fast: never import torch at your plugin's top level.
- `description`: one line shown by `rib list`.

rib records which plugin registered each name; two plugins registering the same name is an error naming both.
New keyword arguments may be added to `register` in later versions; existing ones keep their meaning.
What each target must be is documented per hook below and in docs/plugins.md.

Plugins import `hookimpl` from `rib_core.api`. One vocabulary per kind across hook, CLI and suite: models
(`register_models`, `rib list models`, suite key `models`) and formats (`register_formats`, `rib list formats`,
`rib report --format`). The 0.1 names `register_backbones` and `register_sinks` still work for one release,
with a deprecation warning.
"""

import warnings

import pluggy

hookspec = pluggy.HookspecMarker("rib")
HOOKIMPL = pluggy.HookimplMarker("rib")


def __getattr__(name: str):
    # 0.1 plugins wrote `from rib_core.hookspecs import hookimpl`; keep them working while pointing at the API.
    if name == "hookimpl":
        warnings.warn("'from rib_core.hookspecs import hookimpl' is deprecated; use 'from rib_core.api import "
                      "hookimpl'.", DeprecationWarning, stacklevel=2)
        return HOOKIMPL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookspec
def register_models(register):
    """Register pretrained models (backbone loaders): the names a suite lists under `models`.

    Target: a function `load(name: str, *, weights: str | None, options: dict) -> rib_core.models.Backbone`.
    `name` is the full name the user wrote (useful for "prefix:*" patterns); `weights` is a local file path
    (safetensors, or a torch file loaded with weights_only=True) that replaces the hub weights when given;
    `options` holds the remaining keys of the suite's model entry. Raise `rib_core.errors.RibError` with a
    message saying what to do when weights are unavailable.

    Optional keywords of `register`: `weights_status="module:attr"`, a function `(name, *, weights, options) ->
    str | None` saying what is missing offline (rib refuses to start a run while it returns a message);
    `identity="module:attr"`, a function `(name, *, weights, options) -> str` that changes whenever the weights
    your plugin will load change (rib puts it into every result key that depends on the model, so changed
    weights are re-evaluated); `label_space="imagenet-1k"` (the default), the one declaration of the classes its logits
    index (rib sets `Backbone.label_space` from it), checked against each dataset's before any work; `num_params=86_000_000`, used by `rib bench --dry-run` estimates.
    """


@hookspec
def register_datasets(register):
    """Register dataset adapters.

    Target: a subclass of `rib_core.data.DatasetAdapter`. rib instantiates it as
    `Adapter(label, root, options)` and uses `class_map()`, `samples()`, `open_image()`, `accuracy()` and
    `check()`; see the class's docstrings.
    """


@hookspec
def register_strategies(register):
    """Register fine-tuning strategies.

    Target: a subclass of `rib_core.strategies.Strategy`. rib instantiates it as `Strategy(params)` with the
    suite's hyper-parameters for it and runs the training loop itself, calling the strategy's `setup`,
    `extra_loss` and `finalize`.
    """


@hookspec
def register_metrics(register):
    """Register metrics computed from stored results.

    Target: a subclass of `rib_core.metrics.Metric`. Its `compute(results)` receives every stored evaluation
    (per-sample predictions included) and returns rows for the report; it never runs a model.
    """


@hookspec
def register_formats(register):
    """Register report formats (`rib report --format NAME`).

    Target: a function `write(report: dict, stream) -> None` that writes the report (the JSON structure
    documented in docs/protocol.md) to a text stream.
    """


@hookspec
def register_launchers(register):
    """Register launchers: where `rib bench --launcher NAME` runs the grid's jobs (SLURM, Ray, ...).

    Target: a subclass of `rib_core.engine.launch.Launcher` (see its docstring): rib groups the planned cells
    into jobs with their dependencies and resources, calls `submit(job, worker)` for each ready job, and polls
    it; the job runs `rib_core.engine.jobs.run_job(worker, job.keys)` wherever the launcher puts it. Optional
    extra `arguments="module:function"`: a function `add_arguments(group)` adding the launcher's own options to
    `rib bench` (it runs for `rib --help`: never import the scheduler's package there).
    """


# -- deprecated names (0.1): same arguments, same meaning ---------------------------------------------------------
@hookspec(warn_on_impl=DeprecationWarning("register_backbones is deprecated: rename the hook to register_models."))
def register_backbones(register):
    """Deprecated name of `register_models`."""


@hookspec(warn_on_impl=DeprecationWarning("register_sinks is deprecated: rename the hook to register_formats."))
def register_sinks(register):
    """Deprecated name of `register_formats`."""
