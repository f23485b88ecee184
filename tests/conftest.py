"""Fixtures of rib's own tests (rib_core.testing's, the kit plugin authors use, are loaded by its pytest11 entry
point in every session):

- the toy world (rib_core/testing/toy.py): `toy_env`, the toy plugin's whole grid; `small_toy_env`, two of its
  domains and the faults plugin (tests/faults.py);
- `bench`: `rib bench` in this process, with what it changes in the process put back (run_rib's guarantee);
- the demo, drawn and pretrained once per session: `demo_data_cache` (its images) and `demo_cache` (its images
  and both pretrained backbones: what a warm `rib bench` with no config runs from).

`scripts/test --quick` leaves out the tests marked `slow` (pyproject.toml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rib_core.testing import toy
from rib_core.testing.process_state import run_cli
from tests.helpers import linked_cache


# -- the toy world ----------------------------------------------------------------------------------------------
@pytest.fixture
def toy_env(tmp_path, monkeypatch, register_plugin) -> Path:
    """The toy plugin registered, its four domains (10 images a class) under tmp_path/data, rib's cache in
    tmp_path/cache. Returns tmp_path."""
    return toy.install(tmp_path, monkeypatch, register_plugin)


@pytest.fixture
def small_toy_env(tmp_path, monkeypatch, register_plugin) -> Path:
    """toy-a and toy-b only, 6 images a class (a grid of 8 cells with one model and one strategy), and the plugin
    with faults on demand (tests/faults.py) registered as 'rib-test-faults'. Returns tmp_path."""
    from tests.faults import FaultsPlugin

    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    register_plugin(FaultsPlugin(), "rib-test-faults")
    return tmp_path


# -- rib bench, in this process ------------------------------------------------------------------------------------
@dataclass
class BenchRun:
    exit_code: int
    stdout: str
    stderr: str
    out: Path  # the results directory


@pytest.fixture
def bench(run_rib, tmp_path):
    """bench(suite, out=tmp_path/"out", *args, report=False) -> BenchRun(exit_code, stdout, stderr, out): runs
    `rib bench -c SUITE --out OUT --device cpu --workers 0 --no-report ARGS` in this process (suite None: no -c;
    report=True: without --no-report). Like `run_rib`, it puts back what the run changed in the process
    (registry, environment, directory, signal handlers, torch threads, RNGs)."""

    def run(suite=None, out=None, *args, report: bool = False) -> BenchRun:
        out = Path(out) if out is not None else tmp_path / "out"
        config = ["-c", str(suite)] if suite is not None else []
        result = run_rib("bench", *config, "--out", str(out), "--device", "cpu", "--workers", "0",
                         *([] if report else ["--no-report"]), *args)
        return BenchRun(result.exit_code, result.stdout, result.stderr, out)

    return run


# -- the demo, once per session ------------------------------------------------------------------------------------
def once_per_session(tmp_path_factory, name: str, build) -> Path:
    """A folder `build(folder)` fills once for the whole test session, shared by every pytest-xdist worker (the
    workers' temporary folders share a parent; a lock file makes the others wait for the first)."""
    import fcntl
    import os

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo_images(tmp_path_factory) -> Path:
    """Every demo domain at full size, drawn once per session (a few seconds): a cache's demo-data folder."""
    from rib_core.demo import datasets

    return once_per_session(tmp_path_factory, "demo-images", datasets.ensure_all_domains) / "demo-data"


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory) -> Path:
    """Both demo backbones, pretrained once per session (about 35 s on 2 cores): a cache's demo-models folder."""
    from rib_core.demo import BACKBONES, backbones

    def pretrain(cache):
        for variant in BACKBONES:
            backbones.ensure_pretrained(variant, cache, progress=lambda *_: None)

    return once_per_session(tmp_path_factory, "demo-models", pretrain) / "demo-models"


@pytest.fixture
def demo_data_cache(tmp_path, monkeypatch, demo_images) -> Path:
    """RIB_CACHE_DIR for this test, holding the session's demo images and no pretrained model."""
    cache = linked_cache(tmp_path / "rib-cache", demo_images)
    monkeypatch.setenv("RIB_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def demo_cache(tmp_path, monkeypatch, demo_images, demo_models) -> Path:
    """RIB_CACHE_DIR for this test, holding the session's demo images and pretrained backbones."""
    cache = linked_cache(tmp_path / "rib-cache", demo_images, demo_models)
    monkeypatch.setenv("RIB_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, demo_images, demo_models):
    """The offline demo run once per session, as the README's first command runs it (no benchmarks.toml, the
    packaged suites, hubs offline), on the session's images and backbones: (exit code, stdout, stderr) of
    `rib bench --out OUT`, the report of OUT as JSON, and OUT. Read it; never write into OUT."""

    def run(where: Path) -> None:  # no benchmarks.toml there: the packaged suites are used
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RIB_CACHE_DIR", str(linked_cache(where / "cache", demo_images, demo_models)))
            mp.setenv("HF_HUB_OFFLINE", "1")
            mp.delenv("RIB_DATA_ROOT", raising=False)
            mp.chdir(where)
            bench = run_cli(["bench", "--out", where / "out"])
            report = run_cli(["report", where / "out", "--format", "json"])
        (where / "bench.json").write_text(json.dumps(bench))
        (where / "report.json").write_text(report[1])

    where = once_per_session(tmp_path_factory, "demo-run", run)
    bench = tuple(json.loads((where / "bench.json").read_text()))
    return bench, json.loads((where / "report.json").read_text()), where / "out"
