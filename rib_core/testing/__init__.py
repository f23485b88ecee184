"""pytest fixtures and helpers for plugin authors (and rib's own tests): the kit a plugin is tested with.

rib-core registers this module as a pytest plugin (entry point `pytest11`, name `rib`), so the fixtures are
available in any test session where rib-core is installed, without a conftest:

    pytestmark = pytest.mark.usefixtures("rib_isolated")  # offline, own cache: nothing outside the test

    def test_my_metric_runs_on_a_bench(register_plugin, run_rib, toy_suite, tmp_path):
        register_plugin(my_plugin_module, "rib-mylab")
        result = run_rib("bench", "-c", str(toy_suite(metrics=["mylab-ece"])), "--out", str(tmp_path / "out"))
        assert result.exit_code == 0

A plugin's tests import only `rib_core.api` and this module (`__all__` lists what it offers): fixtures, the
conformance checks (`check_model_loader`, `check_dataset_adapter`, `check_strategy`, `check_metric`,
`check_report_format`, `check_launcher`: rib_core/testing/conformance.py), `make_results` for a metric's inputs,
and the strategy and backbone kit. Importing it stays light (no torch, numpy or timm): it loads in every pytest
session; the helpers import what they need when called.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from rib_core.plugins import get_registry, reset_registry
from rib_core.testing.conformance import (check_dataset_adapter, check_declared_options, check_launcher, check_metric,
                                          check_model_loader, check_report_format, check_strategy, sample_report)
from rib_core.testing.results import make_evaluation, make_results
from rib_core.testing.training import TensorTrainData, fine_tune, random_train_data, tiny_vit, train_context

__all__ = [
    # fixtures (pytest finds them; listed for the reader)
    "rib_isolated", "rib_registry", "register_plugin", "run_rib", "toy_suite", "rib_cache", "offline_hub",
    "put_in_hf_cache",
    # conformance checks
    "check_model_loader", "check_dataset_adapter", "check_strategy", "check_metric", "check_report_format",
    "check_launcher", "check_declared_options", "sample_report",
    # data and results
    "make_dataset_tree", "make_results", "make_evaluation",
    # the strategy and backbone kit
    "tiny_vit", "random_train_data", "TensorTrainData", "train_context", "fine_tune",
    "RibResult", "Isolation",
]


@pytest.fixture
def rib_registry():
    """The registry of installed plugins as rib builds it (built-ins, then every entry-point plugin), freshly
    discovered for this test and discarded afterwards: `.get(kind, name)` -> a registration (`.plugin`,
    `.description`, `.load()`), `.plugins[distribution]` -> its `.status`, `.error`, `.version`."""
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
    """run_rib(*args) -> RibResult: run the CLI in-process with the current registry and capture its output.
    What the command changes in the process (environment, directory, registry, torch threads, RNGs, signal
    handlers; rib_core/testing/process_state.py) is put back afterwards, as if it had run in its own process."""
    from rib_core.testing.process_state import run_cli

    def run(*args: str) -> RibResult:
        return RibResult(*run_cli(args))

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


@dataclass
class Isolation:
    cache: Path  # this test's RIB_CACHE_DIR
    hub: Path  # the empty, offline Hugging Face hub cache


@pytest.fixture
def rib_isolated(offline_hub, rib_cache, monkeypatch) -> Isolation:
    """Isolate a test from the machine: an empty offline Hugging Face cache, its own RIB_CACHE_DIR, no
    RIB_DATA_ROOT. For a whole module: `pytestmark = pytest.mark.usefixtures("rib_isolated")`."""
    monkeypatch.delenv("RIB_DATA_ROOT", raising=False)
    return Isolation(cache=rib_cache, hub=offline_hub)


@pytest.fixture
def put_in_hf_cache(offline_hub):
    """put_in_hf_cache(repo_id, filename, source) -> sha256: lay `source` out in the cache as huggingface_hub does
    (snapshots/<commit>/<filename> -> blobs/<sha256>), so the loaders' real hub path finds it offline."""
    import hashlib
    import shutil

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


# -- data and a whole bench, offline ------------------------------------------------------------------------------
def make_dataset_tree(name: str, root, *, n_classes: int = 3, per_class: int = 2, size: int = 40,
                      seed: int = 0) -> Path:
    """Write a tiny copy of a real dataset's distributed layout under the data root `root`; return its folder.

    `name`: imagenet-v2, imagenet-a, imagenet-r, imagenet-sketch, imagenet-cartoon, imagenet-drawing,
    imagenet-c, objectnet or imagenet-val. The tree has the real folder name (so `--data-root root` finds it),
    file names and extensions, and the strays of real downloads (README.txt, .DS_Store, "._" forks);
    `n_classes` x `per_class` small images whose pattern follows their ImageNet class. `rib datasets check`
    finds it and says "partial" (3 classes are not 1000). Same arguments, same bytes."""
    from rib_core.data.fixtures import make_dataset_tree as make

    return make(name, Path(root), n_classes=n_classes, per_class=per_class, size=size, seed=seed)


@pytest.fixture(scope="session")
def _rib_toy_world(tmp_path_factory) -> Path:
    from rib_core.testing.toy import make_world

    return make_world(tmp_path_factory.mktemp("rib-toy-world"))


@pytest.fixture
def toy_suite(tmp_path, rib_cache, _rib_toy_world):
    """toy_suite(strategies=("lp",), *, metrics=None, training=None, name="toy", **suite_keys) -> Path of a
    suite file that `rib bench -c PATH` runs offline in seconds (the demo cut down: one untrained demo ViT, two
    demo domains and a reference set of 40 images, one epoch; rib_core/testing/toy.py). Name your registered
    strategy in `strategies`, your metric in `metrics`; `training={...}` and other keywords override the suite's
    settings. Its data is written once per session; the bench's cache goes to this test's RIB_CACHE_DIR."""
    from rib_core.testing.toy import write_suite

    count = itertools.count()

    def make(strategies=("lp",), **keys) -> Path:
        return write_suite(tmp_path / f"toy-suite-{next(count)}.toml", _rib_toy_world, strategies, **keys)

    return make
