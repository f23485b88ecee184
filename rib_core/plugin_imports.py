"""Which rib internals an installed plugin still imports, and what to import instead.

Since 0.2.0 a plugin imports rib only through `rib_core.api` (its tests also through `rib_core.testing`). A
plugin written for 0.1 used the module paths the 0.1 docs named (`rib_core.models.Backbone`,
`rib_core.hookspecs.hookimpl`, `rib_core.data.folders.FolderAdapter`, ...). Those still work; this module
reads the plugin's source (never importing anything new) and says, per import, which `rib_core.api` name
replaces it, so `rib plugins` and a DeprecationWarning can tell the author exactly what to change.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from types import ModuleType

PUBLIC = ("rib_core", "rib_core.api", "rib_core.testing")
INTERNAL_MENTION = re.compile(r"\brib_core\.(?!api\b|testing\b)")


def _is_internal(module: str) -> bool:
    return module.startswith("rib_core.") and module not in PUBLIC


def _source_file(module_name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module_name)  # imports parent packages only (already loaded plugins)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


@lru_cache(maxsize=1)
def _public_names() -> frozenset[str]:
    """rib_core.api's __all__, read from its source: importing it here would import the layers above the
    registry (the engine), which the registry must not depend on."""
    path = _source_file("rib_core.api")
    for node in ast.parse(path.read_text(encoding="utf-8")).body if path else []:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def internal_imports(module_name: str) -> list[str]:
    """One line per import of a rib internal in `module_name`'s source, naming the public import to use."""
    path = _source_file(module_name)
    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
        if not INTERNAL_MENTION.search(text):  # the common case, a 0.2 plugin: no parse needed
            return []
        tree = ast.parse(text, filename=str(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_internal(node.module):
            for alias in node.names:
                public = alias.name in _public_names() or (node.module == "rib_core.hookspecs" and alias.name == "hookimpl")
                advice = (f"use 'from rib_core.api import {alias.name}'" if public else
                          f"'{alias.name}' is internal: use what rib_core.api offers (docs/plugins.md)")
                lines.append(f"{module_name} imports {alias.name} from {node.module}: {advice}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_internal(alias.name):
                    lines.append(f"{module_name} imports {alias.name}: import from rib_core.api instead "
                                 "(docs/plugins.md)")
    return lines


def plugin_modules(hook_module: str, targets: list[str]) -> list[str]:
    """The plugin's hook module and the modules its registrations name (from "module:attr" targets), in order."""
    seen: dict[str, None] = {hook_module: None}
    for target in targets:
        seen.setdefault(target.partition(":")[0], None)
    return [m for m in seen if m and not m.startswith("rib_core")]  # rib's own modules are not a plugin's


def note_internal_imports(info, obj, registrations) -> None:
    """Record (in `info.deprecations`, shown by `rib plugins`) and warn about a plugin's internal imports."""
    import warnings

    from rib_core.deprecated import INTERNAL_IMPORTS, RibDeprecationWarning

    hook_module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__
    targets = [t for r in registrations for t in (r.target, *r.extra.values()) if isinstance(t, str) and ":" in t]
    lines = [line for module in plugin_modules(hook_module or "", targets) for line in internal_imports(module)]
    if lines:
        info.deprecations.extend(f"deprecated import: {line}" for line in lines)
        warnings.warn(f"plugin '{info.name}': {INTERNAL_IMPORTS.message()}; internals may change without "
                      "notice:\n  " + "\n  ".join(lines), RibDeprecationWarning, stacklevel=2)
