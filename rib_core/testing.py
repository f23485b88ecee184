"""pytest fixtures for plugin authors (and rib's own tests). Enable with `pytest_plugins = ["rib_core.testing"]`.

    def test_my_metric_is_listed(register_plugin, run_rib):
        register_plugin(my_plugin_module)
        result = run_rib("list", "metrics", "--json")
        assert "my-metric" in result.stdout
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

from rib_core.plugins import get_registry, reset_registry


@pytest.fixture
def rib_registry():
    """A freshly discovered registry for this test; discarded afterwards."""
    reset_registry()
    yield get_registry()
    reset_registry()


@pytest.fixture
def register_plugin(rib_registry):
    """register_plugin(obj, name=None) -> PluginInfo: add a plugin object for the duration of one test."""
    added = []

    def register(obj, name: str | None = None):
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        info = rib_registry.add_plugin(obj, name)
        added.append(name)
        return info

    yield register
    for name in added:
        rib_registry.remove_plugin(name)


@dataclass
class RibResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_rib():
    """run_rib(*args) -> RibResult: run the CLI in-process with the current registry and capture its output."""
    from rib_core.cli import main

    def run(*args: str) -> RibResult:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
        return RibResult(code, out.getvalue(), err.getvalue())

    return run
