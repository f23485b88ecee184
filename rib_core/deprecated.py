"""Every rib 0.1 form that still works, what replaces it, and the release that removes it.

A plugin written against the 0.1 docs keeps working through 0.2 with a `DeprecationWarning` (and a line in
`rib plugins`) per old form it uses. Each shim lives here, next to its message, so that removing one in 0.3.0 is
deleting its entry and its one caller (tests/test_deprecated.py fails once a removal version is reached).
Modelled on pytest's `_pytest/deprecated.py`.

Two 0.1 behaviours cannot be kept and are refused with the fix instead (rib_core/models/base.py): a loader that
sets `Backbone.label_space` itself, and the expectation that `Backbone.identity` enters the cell keys (a model
registered without `identity=` is warned about in `rib plugins` and every dry run).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

SINCE = "0.2.0"


class RibDeprecationWarning(DeprecationWarning):
    """A 0.1 form of the plugin API that still works, and will not after the release it names."""


@dataclass(frozen=True)
class Deprecated:
    old: str  # the 0.1 form, as a plugin author wrote it
    new: str  # what to write instead
    removed_in: str = "0.3.0"

    def message(self) -> str:
        return f"{self.old} is deprecated: {self.new} (deprecated since {SINCE}, removed in {self.removed_in})"

    def warning(self) -> RibDeprecationWarning:
        return RibDeprecationWarning(self.message())

    def warn(self, stacklevel: int = 3) -> None:
        warnings.warn(self.message(), RibDeprecationWarning, stacklevel=stacklevel)


HOOK_REGISTER_BACKBONES = Deprecated("hook register_backbones", "rename it register_models")
HOOK_REGISTER_SINKS = Deprecated("hook register_sinks", "rename it register_formats")
HOOKSPECS_HOOKIMPL = Deprecated("'from rib_core.hookspecs import hookimpl'", "use 'from rib_core.api import hookimpl'")
INTERNAL_IMPORTS = Deprecated("importing rib internals (the module paths the 0.1 docs named)",
                              "import from rib_core.api (and, in tests, rib_core.testing) only")
ADAPTER_OPTION_NAMES = Deprecated("DatasetAdapter.option_names",
                                  "declare accepted_options = {name: Option(type, default=..., help=...)}")
STRATEGY_DEFAULTS = Deprecated("Strategy.defaults (with option_checks)",
                               "declare accepted_options = {name: Option(type, default=..., help=...)}")

ALL = (HOOK_REGISTER_BACKBONES, HOOK_REGISTER_SINKS, HOOKSPECS_HOOKIMPL, INTERNAL_IMPORTS, ADAPTER_OPTION_NAMES,
       STRATEGY_DEFAULTS)

# The 0.1 hook names, by the kind they register (the hookspecs keep them until HOOK_REGISTER_*.removed_in).
HOOKS = {"models": ("register_backbones", HOOK_REGISTER_BACKBONES), "formats": ("register_sinks", HOOK_REGISTER_SINKS)}
