"""Imports run one way, package by package: every module sits on its package's layer, and no two packages (nor
two modules) import each other, directly or through others.

Checked from the import graph of every module in rib_core, lazy imports inside functions included, so a module
can never reach up to a layer that depends on it (the cycles 0.1 had: cli <-> commands, engine <-> strategies;
0.2's config <-> data).
"""

import ast
from pathlib import Path

from tests.helpers import REPO

# Lower number = lower layer. A package (or a top-level module) may import its own layer and those below, never
# above; every module belongs to the layer of its package: there are no per-module exceptions.
LAYERS = {
    "rib_core": 0, "rib_core.errors": 0, "rib_core.hashing": 0, "rib_core.paths": 0, "rib_core.preprocess": 0,
    "rib_core.hookspecs": 0, "rib_core.options": 0, "rib_core.training": 0, "rib_core.suite": 0,
    "rib_core.signals": 0, "rib_core.disk": 0, "rib_core.env": 0,
    "rib_core.models": 1, "rib_core.data": 1, "rib_core.strategies": 1, "rib_core.metrics": 1,
    "rib_core.plugins": 2, "rib_core.plugin_imports": 2, "rib_core.config": 2, "rib_core.resolve": 2,
    "rib_core.builtins": 2, "rib_core.demo": 2,
    "rib_core.engine": 3,
    "rib_core.report": 4,
    "rib_core.suite_docs": 5,  # writes docs/suites.md from the declarations of every layer
    "rib_core.plugin_docs": 5,  # writes docs/plugins.md's reference sections likewise
    "rib_core.contract": 0, "rib_core.deprecated": 0, "rib_core.describe": 0,  # the plugin contract's declarations
    "rib_core.api": 5,
    "rib_core.cli": 6, "rib_core.__main__": 6,
    "rib_core.testing": 7,  # drives the CLI in tests
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((REPO / "rib_core").rglob("*.py")):
        out[".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")] = path
    return out


def package_of(module: str) -> str:
    """rib_core.engine.plan -> rib_core.engine; rib_core.errors -> rib_core.errors; rib_core -> rib_core."""
    parts = module.split(".")
    return ".".join(parts[:2])


def layer_of(module: str) -> int:
    package = package_of(module)
    assert package in LAYERS, f"{package} belongs to no layer: add it to LAYERS"
    return LAYERS[package]


def imports_of(path: Path, known: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rib_core")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("rib_core"):
            # `from rib_core.cli import bench` imports the module rib_core.cli.bench
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                      for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {module: {i for i in imports_of(path, known) if i != module} for module, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), each as a sorted list."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def package_graph(module_edges: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, imported in module_edges.items():
        # the package root (rib_core/__init__.py) holds only the version: it is a leaf, not a container
        out.setdefault(package_of(module), set()).update(package_of(i) for i in imported
                                                         if package_of(i) != package_of(module))
    return out


def test_imports_never_go_up_a_layer():
    upward = []
    for module, imported in graph().items():
        level = layer_of(module)
        for target in imported:
            if layer_of(target) > level:
                upward.append(f"{module} (layer {level}) imports {target} (layer {layer_of(target)})")
    assert upward == []


def test_no_module_and_no_package_imports_itself_through_others():
    edges = graph()
    assert cycles(edges) == []
    assert cycles(package_graph(edges)) == []


def test_the_checks_catch_an_upward_import_and_a_package_cycle(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rib_core.engine.plan import build_plan\n")
    assert any(layer_of(m) > LAYERS["rib_core.models"] for m in imports_of(bad, modules()))
    edges = {"rib_core.config.x": {"rib_core.data.locate"}, "rib_core.data.get": {"rib_core.config.x"},
             "rib_core.data.locate": set()}
    assert cycles(edges) == []  # no module cycle ...
    assert cycles(package_graph(edges)) == [["rib_core.config", "rib_core.data"]]  # ... but a package cycle
