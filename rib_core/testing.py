"""pytest fixtures for plugin authors (and rib's own tests).

rib-core registers this module as a pytest plugin (entry point `pytest11`), so the fixtures are available in
any test session where rib-core is installed:

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


@pytest.fixture
def rib_cache(tmp_path, monkeypatch):
    """A fresh RIB_CACHE_DIR for this test (decoded images, zero-shot heads, Fisher matrices)."""
    cache = tmp_path / "rib-cache"
    monkeypatch.setenv("RIB_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty, offline Hugging Face cache: nothing can be downloaded, nothing is cached."""
    from huggingface_hub import constants

    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # huggingface_hub reads both at import time; the calls read these module attributes.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    return hub


@pytest.fixture
def put_in_hf_cache(offline_hub):
    """put_in_hf_cache(repo_id, filename, source) -> sha256: lay `source` out in the cache as huggingface_hub does
    (snapshots/<commit>/<filename> -> blobs/<sha256>), so the loaders' real hub path finds it offline."""
    import hashlib
    import shutil
    from pathlib import Path

    def put(repo_id, filename, source):
        repo = offline_hub / ("models--" + repo_id.replace("/", "--"))
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        (repo / "blobs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, repo / "blobs" / digest)
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / filename).symlink_to(Path("..") / ".." / "blobs" / digest)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text("0" * 40)
        return digest

    return put
