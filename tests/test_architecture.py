"""Imports run one way: cli -> commands -> report -> engine -> registry and config -> contracts -> utilities.

Checked from the import graph of every module in rib_core, lazy imports inside functions included, so a module
can never reach up to a layer that depends on it (the cycles 0.1 had: cli <-> commands, engine <-> strategies).
"""

import ast
from pathlib import Path

from tests.helpers import REPO

# Lower number = lower layer. A module may import its own layer and those below, never above.
LAYERS = {
    "rib_core": 0, "rib_core.errors": 0, "rib_core.hashing": 0, "rib_core.paths": 0, "rib_core.preprocess": 0, "rib_core.hookspecs": 0,
    "rib_core.models": 1, "rib_core.data": 1, "rib_core.strategies": 1, "rib_core.metrics": 1,
    "rib_core.plugins": 2, "rib_core.plugin_imports": 2, "rib_core.config": 2, "rib_core.resolve": 2, "rib_core.builtins": 2, "rib_core.demo": 2,
    "rib_core.data.hub": 2,  # a built-in adapter that reads another adapter's data from the Hub: it asks the registry
    "rib_core.engine": 3,
    "rib_core.report": 4,
    "rib_core.commands": 5,
    "rib_core.suite_docs": 5,  # writes docs/suites.md from the declarations of every layer
    "rib_core.plugin_docs": 5,  # writes docs/plugins.md's reference sections likewise
    "rib_core.contract": 0, "rib_core.deprecated": 0, "rib_core.describe": 0,  # the plugin contract's declarations
    # `rib datasets check|get|sources`: commands that live with the data code they drive
    "rib_core.data.commands": 5, "rib_core.data.get": 5, "rib_core.data.get_cli": 5,
    "rib_core.api": 6,
    "rib_core.cli": 7, "rib_core.__main__": 7,
    "rib_core.testing": 8,  # drives the CLI in tests
}


def layer_of(module: str) -> tuple[int, str]:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix], prefix
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def imports_of(path: Path, module: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rib_core")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("rib_core"):
            # `from rib_core import commands` imports the module rib_core.commands
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in LAYERS else node.module
                      for a in node.names}
    return found


def test_imports_never_go_up_a_layer():
    upward = []
    for path in sorted((REPO / "rib_core").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        level, _ = layer_of(module)
        for imported in imports_of(path, module):
            target, name = layer_of(imported)
            if target > level:
                upward.append(f"{module} (layer {level}) imports {imported} (layer {target}, {name})")
    assert upward == []


def test_the_layer_table_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rib_core.engine.plan import prepare\n")
    assert any(layer_of(m)[0] > LAYERS["rib_core.models"] for m in imports_of(bad, "rib_core.models.bad"))
