"""Plugin discovery and the registry of everything plugins provide.

Plugins are found through the entry-point group "rib". Each one is loaded on its own, inside try/except, so
that a broken plugin is reported (by `rib plugins` and one warning line) and never stops rib, unless
RIB_STRICT_PLUGINS=1: an exception, a `sys.exit()` or an `argparse` exit at import or in a hook disables that
plugin only (a Ctrl-C still stops rib), and what a plugin prints while it loads goes to stderr, never into rib's
output. Registrations name "module:attr" targets that are imported only when used; each registration and each
target is checked against its kind's contract (rib_core/contract.py).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from rib_core import __version__, contract, deprecated, hookspecs
from rib_core.errors import PluginContractError, PluginError, UnknownNameError
from rib_core.models.base import identity_warning
from rib_core.options import did_you_mean
from rib_core.plugin_imports import note_internal_imports

ENTRY_POINT_GROUP = "rib"
# One vocabulary per kind: the hook is register_<kind>, the command `rib list <kind>`, the suite key <kind>.
KINDS = tuple(contract.KINDS)
# 0.1 names of two kinds: their hooks still work (deprecated), and internal callers may still say them.
KIND_ALIASES = {"backbones": "models", "sinks": "formats"}
DEPRECATED_HOOKS = {kind: hook for kind, (hook, _) in deprecated.HOOKS.items()}
# Singular nouns for messages ("unknown model 'x'").
KIND_NOUN = {name: kind.noun for name, kind in contract.KINDS.items()}
BUILTIN_MODULES = ("rib_core.builtins",)


# The plugins this project ships, by kind: the names (or patterns) each registers. An unknown name says what to
# install, and `rib list` shows the names of those not installed.
SHIPPED_PLUGINS = {
    "models": {"openai-clip/*": "rib-openai-clip", "laion/*": "rib-laion", "augreg/*": "rib-augreg"},
    "strategies": {"lora": "rib-lora", "ewc": "rib-ewc", "visual-prompt": "rib-visual-prompt"},
    "launchers": {"submitit": "rib-submitit", "ray": "rib-ray"},
}


def isolated(exc: BaseException) -> bool:
    """Whether a plugin's exception disables only that plugin: anything but a Ctrl-C or SIGTERM (which rib
    raises as KeyboardInterrupt) or a generator being closed. A plugin's sys.exit() or argparse error is its own."""
    return not isinstance(exc, (KeyboardInterrupt, GeneratorExit))


def failure(exc: BaseException) -> str:
    """A plugin's exception as one line for `rib plugins`."""
    if isinstance(exc, SystemExit):
        return (f"SystemExit({exc.code!r}): it exited while rib loaded it (sys.exit(), or argparse parsing the "
                "command line); a plugin must not exit or parse arguments at import or in a hook")
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Registration:
    kind: str
    name: str
    target: str
    description: str
    plugin: str
    extra: dict = field(default_factory=dict)
    _loaded: object = None

    @property
    def is_pattern(self) -> bool:
        return self.name.endswith("*")

    def matches(self, name: str) -> bool:
        return name.startswith(self.name[:-1]) if self.is_pattern else name == self.name

    def create(self, *args, name: str | None = None):
        """An instance of the registered class (an adapter, strategy, metric or launcher) whose `name` is the name
        it was registered under (`name`: the name used, for a pattern), set before `__init__` runs: the one place
        a class learns its name, so a plugin's `__init__` can already use it in messages."""
        return contract.instantiate(self.load(), name or self.name, *args)

    def load_extra(self, keyword: str):
        """The object an optional `keyword="module:attr"` of this registration names (weights_status, identity,
        architecture, ...), imported now and checked against how rib calls it; None when the plugin gave none."""
        target = self.extra.get(keyword)
        if not target:
            return None
        where = f"{self._what()} with {keyword}='{target}'"
        obj = _import(target, where)
        contract.check_keyword_target(contract.KINDS[self.kind], keyword, obj, where)
        return obj

    def load(self):
        """Import the target and check it is what its kind must be. A failure names the plugin responsible."""
        if self._loaded is None:
            where = f"{self._what()} as '{self.target}'"
            obj = _import(self.target, where)
            contract.check_target(contract.KINDS[self.kind], obj, where)
            self._loaded = obj
        return self._loaded

    def _what(self) -> str:
        return f"plugin '{self.plugin}' registered {KIND_NOUN[self.kind]} '{self.name}'"


def _import(target: str, where: str):
    """The object a "module:attr" target names; any failure (a SystemExit too) is a PluginError naming `where`."""
    module_name, _, attr = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except BaseException as exc:
        if not isolated(exc):
            raise
        raise PluginError(f"{where}, but it could not be loaded: {failure(exc)}\n"
                          "Reinstall or upgrade that plugin, or remove it from your suite.") from exc
    return obj


@dataclass
class PluginInfo:
    name: str  # distribution name for entry-point plugins, module name for built-ins
    version: str | None
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    # Names this plugin registered that another plugin had already taken: only these are refused.
    clashes: list[str] = field(default_factory=list)
    deprecations: list[str] = field(default_factory=list)  # 0.1 names it still uses
    # What works but may surprise (a model without identity=): shown by `rib plugins`, not a failure.
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error is not None:
            return self.error
        notes = self.clashes + self.deprecations
        return "ok" if not notes else "ok, except: " + "; ".join(notes)

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "builtin": self.builtin, "hooks": self.hooks,
                "registered": self.registered, "status": self.status, "clashes": self.clashes,
                "warnings": self.warnings}


class Registry:
    """Every plugin's registrations, by kind and name."""

    def __init__(self):
        self.pm = pluggy.PluginManager("rib")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self._plugin_names: dict[int, str] = {}

    # -- loading -----------------------------------------------------------------------------------------
    def add_plugin(self, obj, name: str, version: str | None = None, builtin: bool = False) -> PluginInfo:
        """Register one plugin object (a module or any object with hookimpls) and collect its registrations."""
        info = PluginInfo(name=name, version=__version__ if builtin and version is None else version,
                          builtin=builtin)
        self.plugins[name] = info
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # pluggy.PluginValidationError, or a duplicate registration
            info.error = f"invalid hooks: {exc}"
            _unregister_quietly(self.pm, name)
            return info
        self._plugin_names[id(obj)] = name
        info.hooks = sorted({c.name for c in self.pm.get_hookcallers(obj) or []})
        added: list[Registration] = []
        try:
            with contextlib.redirect_stdout(sys.stderr):  # a hook's prints must not end up in `rib list --json`
                for kind in KINDS:
                    hooks = [f"register_{kind}"] + ([DEPRECATED_HOOKS[kind]] if kind in DEPRECATED_HOOKS else [])
                    for hook in hooks:
                        for impl in getattr(self.pm.hook, hook).get_hookimpls():
                            if impl.plugin_name == name:
                                if hook != f"register_{kind}":
                                    info.deprecations.append(deprecated.HOOKS[kind][1].message())
                                impl.function(register=self._register_callback(kind, name, added, info))
        except BaseException as exc:
            if not isolated(exc):
                raise
            for reg in added:
                self.entries[reg.kind].pop(reg.name, None)
            info.error = (f"registration refused: {exc}" if isinstance(exc, PluginContractError) else
                          f"registration failed: {failure(exc)}")
            _unregister_quietly(self.pm, name)
            return info
        for reg in added:
            info.registered.setdefault(reg.kind, []).append(reg.name)
        info.warnings += [w for w in [identity_warning(added)] if w]
        for clash in info.clashes:
            print(f"rib: warning: plugin '{name}': {clash} (see 'rib plugins')", file=sys.stderr)
        return info

    def remove_plugin(self, name: str) -> None:
        for kind in KINDS:
            for reg_name in [n for n, r in self.entries[kind].items() if r.plugin == name]:
                del self.entries[kind][reg_name]
        self.plugins.pop(name, None)
        _unregister_quietly(self.pm, name)

    def _register_callback(self, kind: str, plugin: str, added: list, info: PluginInfo):
        def register(name: str, target: str, description: str = "", **extra):
            contract.check_registration(contract.KINDS[kind], name, target, description, extra)
            existing = self.entries[kind].get(name)
            if existing is not None:
                # Refuse this one name; the plugin's other models, datasets, strategies... keep working.
                owner = self.plugins.get(existing.plugin)
                advice = (f"rename it in '{plugin}' with a prefix of its own (e.g. '{plugin}/{name}')"
                          if owner is not None and owner.builtin else
                          f"rename it in one of them with a prefix of its own, or disable one with "
                          f"RIB_DISABLE_PLUGINS={plugin}")
                info.clashes.append(f"{KIND_NOUN[kind]} '{name}' is already registered by '{existing.plugin}', "
                                    f"which keeps it: {advice}")
                return
            reg = Registration(kind, name, target, description, plugin, extra)
            self.entries[kind][name] = reg
            added.append(reg)
        return register

    # -- lookup ------------------------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Registration:
        kind = KIND_ALIASES.get(kind, kind)
        entries = self.entries[kind]
        if name in entries:
            return entries[name]
        patterns = sorted((r for r in entries.values() if r.is_pattern and r.matches(name)),
                          key=lambda r: -len(r.name))
        if patterns:
            return patterns[0]
        raise UnknownNameError(unknown_name_message(kind, name, list(entries)))

    def names(self, kind: str) -> list[Registration]:
        return sorted(self.entries[KIND_ALIASES.get(kind, kind)].values(), key=lambda r: r.name)

    def load(self, kind: str, name: str):
        return self.get(kind, name).load()


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    kind = KIND_ALIASES.get(kind, kind)
    noun = KIND_NOUN.get(kind, kind)
    lines = [f"unknown {noun} '{name}'."]
    hint = did_you_mean(name, known, n=3)
    if hint:
        lines.append(hint.lstrip())
    for shipped, dist in SHIPPED_PLUGINS.get(kind, {}).items():
        if name == shipped or (shipped.endswith("*") and name.startswith(shipped[:-1])):
            lines.append(f"'{name}' is provided by the plugin {dist}: pip install {dist} "
                         f"(from this repository: pip install plugins/{dist}).")
            break
    else:
        lines.append(f"Run 'rib list {KIND_ALIASES.get(kind, kind)}' to see every known {noun}.")
    return "\n".join(lines)


def _unregister_quietly(pm: pluggy.PluginManager, name: str) -> None:
    try:
        plugin = pm.get_plugin(name)
        if plugin is not None:
            pm.unregister(plugin, name=name)
    except Exception:
        pass


def _env_list(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _normalise(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-")


def build_registry() -> Registry:
    """Load built-ins and every installed entry-point plugin (honouring RIB_* environment variables)."""
    registry = Registry()
    for module_name in BUILTIN_MODULES:
        registry.add_plugin(importlib.import_module(module_name), module_name, builtin=True)

    only = _env_list("RIB_LOAD_PLUGINS")
    disabled = _env_list("RIB_DISABLE_PLUGINS") or set()
    strict = os.environ.get("RIB_STRICT_PLUGINS", "") not in ("", "0")
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ep.name
        version = ep.dist.version if ep.dist is not None else None
        key = _normalise(dist)
        if only is not None and key not in {_normalise(n) for n in only}:
            continue
        if key in {_normalise(n) for n in disabled}:
            continue
        try:
            with contextlib.redirect_stdout(sys.stderr):  # what it prints at import must not end up in rib's output
                obj = ep.load()
        except BaseException as exc:
            if not isolated(exc):
                raise
            info = PluginInfo(name=dist, version=version, builtin=False, error=f"import failed: {failure(exc)}")
            registry.plugins[dist] = info
        else:
            info = registry.add_plugin(obj, dist, version)
            if info.error is None:  # 0.1 import paths still work; say which rib_core.api name replaces each
                note_internal_imports(info, obj, [r for k in KINDS for r in registry.entries[k].values()
                                                  if r.plugin == dist])
        if info.error is not None:
            if strict:
                raise PluginError(f"plugin '{dist}' failed ({info.error}) and RIB_STRICT_PLUGINS is set.")
            print(f"rib: warning: plugin '{dist}' disabled: {info.error} (see 'rib plugins')", file=sys.stderr)
    return registry


_registry: Registry | None = None


def get_registry() -> Registry:
    global _registry
    if _registry is None:
        _registry = build_registry()
    return _registry


def reset_registry() -> None:
    """Forget the loaded registry; the next get_registry() discovers plugins again."""
    global _registry
    _registry = None
