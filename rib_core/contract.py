"""What each kind of plugin registers: the keywords its `register` takes, and what its target must be.

One declaration per kind (`KINDS`). The registry (rib_core/plugins.py) checks every `register(...)` call against
it, so a misspelled keyword refuses the plugin with the keyword and the nearest valid one instead of passing
silently, and every target when it is imported, so a strategy that is not a `Strategy` or a loader that cannot be
called as `load(name, *, weights, options)` is named as such before it is used. docs/plugins.md's tables of
register keywords are generated from it (python -m rib_core.plugin_docs), and the `Register*` protocols below,
which type the hooks (rib_core/hookspecs.py), are kept equal to it by tests/test_contract.py.

Base classes are named by their qualified names, not imported: the launcher base lives in the engine, above the
registry, and importing the others here would load them for `rib list`. tests/test_contract.py keeps each name
equal to the `rib_core.api` class.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Protocol

from rib_core.errors import PluginContractError
from rib_core.options import did_you_mean


@dataclass(frozen=True)
class Call:
    """How rib calls a function target: these positional arguments, then these keyword arguments."""

    positional: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    returns: str = "None"

    def text(self, function: str) -> str:
        args = [*self.positional, *(["*", *self.keywords] if self.keywords else [])]
        return f"{function}({', '.join(args)}) -> {self.returns}"

    def accepts(self, function) -> bool:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # a callable without a readable signature (C code): trust it
            return True
        try:
            signature.bind(*self.positional, **{k: None for k in self.keywords})
        except TypeError:
            return False
        return True


@dataclass(frozen=True)
class Keyword:
    """An optional keyword of `register`: a "module:attr" target that rib calls as `call`, or a plain value."""

    name: str
    help: str
    call: Call | None = None  # None: a value of type `kind`
    kind: type = str
    default: object = None


@dataclass(frozen=True)
class Kind:
    name: str  # "models": the hook register_models, `rib list models`, the suite key `models`
    noun: str  # "model", in messages
    target: str  # what the target must be, in words
    base: str | None = None  # class targets: the qualified name of their rib_core.api base class
    call: Call | None = None  # function targets: how rib calls them
    keywords: tuple[Keyword, ...] = ()

    @property
    def hook(self) -> str:
        return f"register_{self.name}"

    @property
    def base_name(self) -> str | None:
        """The base class as a plugin imports it: rib_core.api.<Name>."""
        return f"rib_core.api.{self.base.rpartition('.')[2]}" if self.base else None


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("models", "model", "a function `load(name, *, weights, options) -> Backbone`",
         call=Call(("name",), ("weights", "options"), "Backbone"), keywords=(
             Keyword("weights_status", "None when the weights load without a download, else one line saying what is "
                     "missing and how to get it. `rib bench --dry-run` lists it; a run with the hubs unreachable "
                     "(`HF_HUB_OFFLINE=1`) refuses to start (exit 2) while it returns one. rib prefixes "
                     "`model '<label>': `.", call=Call(("name",), ("weights", "options"), "str | None")),
             Keyword("identity", "a string that changes whenever the weights the loader will load change (e.g. a "
                     "digest of a checkpoint your plugin manages). It enters the key of every cell that depends on "
                     "the model, so new weights are evaluated anew. Without it a model's cells are keyed by its name, "
                     "its options and a suite's `weights = FILE` only: right for hub weights pinned by their name "
                     "(such a model gives weights_status=), wrong for weights a plugin builds or keeps itself, so "
                     "for a model with neither `rib plugins` and every dry run say so.",
                     call=Call(("name",), ("weights", "options"), "str")),
             Keyword("label_space", "the classes the model's logits index, declared here and only here; every "
                     "dataset's `ClassMap.label_space` must equal it (checked before any work). rib sets "
                     "`Backbone.label_space` from it when the model loads.", default="imagenet-1k"),
             Keyword("check_name", "raises `UnknownNameError` for a name matching your pattern that does not exist; "
                     "`rib bench` calls it before any work.", call=Call(("name",))),
             Keyword("architecture", "the model with random weights and its input size, built without a download; "
                     "`rib bench --dry-run` counts its parameters and times a few steps of it for its estimates "
                     "(without it: the ViT-B/16 table, said so), and strategies' `check(model)` sees it (built on the "
                     "meta device) before any cell runs.", call=Call(("name",), ("options",), "(torch.nn.Module, int)")),
         )),
    Kind("datasets", "dataset", "a subclass of `DatasetAdapter`, instantiated as `Adapter(label, root, options)`",
         base="rib_core.data.base.DatasetAdapter"),
    Kind("strategies", "strategy", "a subclass of `Strategy`, instantiated as `Strategy(params)`",
         base="rib_core.strategies.base.Strategy"),
    Kind("metrics", "metric", "a subclass of `Metric`, instantiated without arguments",
         base="rib_core.metrics.base.Metric"),
    Kind("formats", "report format", "a function `write(report, stream) -> None` writing to a text stream",
         call=Call(("report", "stream"))),
    Kind("launchers", "launcher", "a subclass of `Launcher`, instantiated as `Launcher(options)`",
         base="rib_core.engine.launch.Launcher", keywords=(
             Keyword("arguments", "adds the launcher's own `rib bench` options to an argparse group. It runs for "
                     "`rib --help`: it must not import the scheduler's package.", call=Call(("group",))),
         )),
)}


# -- the register callbacks, typed (rib_core.api exports these for plugin authors' annotations) -----------------
class RegisterModels(Protocol):
    def __call__(self, name: str, target: str, description: str = "", *, weights_status: str | None = None,
                 identity: str | None = None, label_space: str = "imagenet-1k", check_name: str | None = None,
                 architecture: str | None = None) -> None: ...


class RegisterDatasets(Protocol):
    def __call__(self, name: str, target: str, description: str = "") -> None: ...


class RegisterStrategies(Protocol):
    def __call__(self, name: str, target: str, description: str = "") -> None: ...


class RegisterMetrics(Protocol):
    def __call__(self, name: str, target: str, description: str = "") -> None: ...


class RegisterFormats(Protocol):
    def __call__(self, name: str, target: str, description: str = "") -> None: ...


class RegisterLaunchers(Protocol):
    def __call__(self, name: str, target: str, description: str = "", *, arguments: str | None = None) -> None: ...


REGISTER_PROTOCOLS = {"models": RegisterModels, "datasets": RegisterDatasets, "strategies": RegisterStrategies,
                      "metrics": RegisterMetrics, "formats": RegisterFormats, "launchers": RegisterLaunchers}


# -- checks ---------------------------------------------------------------------------------------------------
def is_target(value) -> bool:
    module, _, attr = value.partition(":") if isinstance(value, str) else ("", "", "")
    return bool(module and attr)


def check_registration(kind: Kind, name, target, description, extra: dict) -> None:
    """Refuse a `register(...)` call its kind does not accept, saying what to write instead."""
    if not isinstance(name, str) or not name:
        raise PluginContractError(f"register() of a {kind.noun} needs a name (a non-empty string), got {name!r}.")
    what = f"register() of {kind.noun} '{name}'"
    if not is_target(target):
        raise PluginContractError(f"{what}: the target must be a string 'package.module:attribute' naming "
                                  f"{kind.target}, got {target!r}.")
    if not isinstance(description, str):
        raise PluginContractError(f"{what}: the description must be a string (one line for `rib list`), "
                                  f"got {description!r}.")
    known = {k.name: k for k in kind.keywords}
    for key, value in extra.items():
        keyword = known.get(key)
        if keyword is None:
            takes = ", ".join(f"{k}=" for k in known) or "none besides name, target and description"
            raise PluginContractError(
                f"{what} got the unknown keyword '{key}='.{did_you_mean(key, known, shown=lambda k: f'{k}=')} "
                f"Keywords of a {kind.noun} registration: {takes} (docs/plugins.md).")
        if keyword.call is not None and not is_target(value):
            raise PluginContractError(f"{what}: {key}= must be a string 'package.module:attribute' naming "
                                      f"{keyword.call.text(key)}, got {value!r}.")
        if keyword.call is None and not (isinstance(value, keyword.kind) and value):
            raise PluginContractError(f"{what}: {key}= must be a non-empty {keyword.kind.__name__}, got {value!r}.")


def _qualified(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _described(obj) -> str:
    if isinstance(obj, type):
        return f"the class {_qualified(obj)}"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return f"the function {obj.__module__}.{obj.__qualname__}"
    return f"{type(obj).__name__} {obj!r}"[:120]


def check_target(kind: Kind, obj, where: str) -> None:
    """Refuse a loaded target that is not what its kind must be. `where` says which registration it is."""
    if kind.base is not None:
        if isinstance(obj, type) and any(_qualified(c) == kind.base for c in inspect.getmro(obj)):
            return
        raise PluginContractError(f"{where}, which is {_described(obj)}, not a subclass of {kind.base_name}. "
                                  f"A {kind.noun}'s target must be {kind.target}: fix the plugin.")
    if kind.call is not None and not (callable(obj) and kind.call.accepts(obj)):
        raise PluginContractError(f"{where}, which is {_described(obj)}: a {kind.noun}'s target must be "
                                  f"{kind.target}, called as {kind.call.text('target')}. Fix the plugin.")


def check_keyword_target(kind: Kind, keyword: str, obj, where: str) -> None:
    """Refuse the object a `keyword="module:attr"` names when rib cannot call it as that keyword is called."""
    call = next(k.call for k in kind.keywords if k.name == keyword)
    if not (callable(obj) and call.accepts(obj)):
        raise PluginContractError(f"{where}, which is {_described(obj)}: rib calls {keyword}= as "
                                  f"{call.text(keyword)}. Fix the plugin.")


def instantiate(cls, name: str, *args):
    """An instance of a registered class whose `name` is the name it was registered (or, for a pattern, used)
    under, set before `__init__` runs: how every class a plugin registers learns its name."""
    instance = cls.__new__(cls)
    instance.name = name
    instance.__init__(*args)
    return instance
