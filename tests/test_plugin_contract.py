"""The backbone contract's plan-time promises: a plugin's own weights identity enters every dependent key, label
spaces are checked before any work, and weights a plugin says are missing refuse an offline run before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rib_core.api import hookimpl
from rib_core.testing import toy
from tests.helpers import small_grid_suite

def managed_file() -> Path:
    import os

    return Path(os.environ["RIB_MANAGED_WEIGHTS"])


def load_managed(name, *, weights, options):
    """tiny/a, whose head is shifted by a number the plugin keeps in a file of its own (its 'checkpoint')."""
    import torch

    backbone = toy.load("tiny/a", weights=None, options={})
    with torch.no_grad():
        backbone.model.head.bias += float(managed_file().read_text())
    return backbone


def managed_identity(name, *, weights, options):
    return "managed@" + managed_file().read_text()


def load_other_labels(name, *, weights, options):
    """A loader that still sets Backbone.label_space itself, to something its registration does not say."""
    backbone = toy.load("tiny/a", weights=None, options={})
    backbone.label_space = "other"
    return backbone


def missing_weights(name, *, weights, options):
    return "weights not found in /models/ghost.safetensors; copy them there."


class ManagedPlugin:
    @hookimpl
    def register_models(self, register):
        register("managed/*", "tests.test_plugin_contract:load_managed", "tiny/a with plugin-managed weights",
                 identity="tests.test_plugin_contract:managed_identity", label_space="toy")
        register("ghostly/*", "tests.test_plugin_contract:load_managed", "weights that are never there",
                 weights_status="tests.test_plugin_contract:missing_weights", label_space="toy")
        register("imagenet-only/*", "tests.test_plugin_contract:load_managed", "declares ImageNet-1k labels")
        register("two-spaces/*", "tests.test_plugin_contract:load_other_labels", "says 'toy', loads 'other'",
                 label_space="toy")


@pytest.fixture
def env(small_toy_env, monkeypatch, register_plugin):
    monkeypatch.setenv("RIB_MANAGED_WEIGHTS", str(small_toy_env / "checkpoint.txt"))
    (small_toy_env / "checkpoint.txt").write_text("0.0")
    register_plugin(ManagedPlugin(), "rib-managed")
    return small_toy_env


@pytest.fixture
def bench_model(bench, env):
    """bench_model(model="managed/a"): the small grid (tests/helpers.py) with `model`, run in this process."""
    return lambda model="managed/a": bench(small_grid_suite(env, models=[model]))


def test_changed_plugin_managed_weights_rerun_every_dependent_cell(env, bench_model):
    first = bench_model()
    assert first.exit_code == 0, first.stderr
    assert "8 cell(s) run, 0 reused" in first.stderr
    assert "0 cell(s) run, 8 reused" in bench_model().stderr  # same weights: everything reused

    (env / "checkpoint.txt").write_text("3.0")  # the plugin's checkpoint changes; no suite value does
    again = bench_model()
    assert again.exit_code == 0, again.stderr
    assert "8 cell(s) run, 0 reused" in again.stderr
    records = [json.loads(p.read_text()) for p in (env / "out").glob("cells/*/record.json")]
    assert len(records) == 16  # both generations are kept, under different keys


def failed_with(result, exit_code: int, message: str) -> None:
    assert result.exit_code == exit_code
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_label_space_mismatch_is_refused_before_any_work(env, bench_model):
    failed_with(bench_model(model="imagenet-only/x"), 2, "model 'imagenet-only/x' predicts the label space "
                "'imagenet-1k', but dataset(s) toy-a, toy-b are labelled in 'toy'")
    assert not (env / "out").exists()


def test_the_label_space_is_declared_once_by_registration_and_a_backbone_contradicting_it_fails_clearly(env, bench_model):
    # The toy loader leaves Backbone.label_space unset: the first test's cells ran because rib carried the
    # registration's "toy" onto the loaded backbone. One that names another space is a plugin bug, said as such.
    failed_with(bench_model(model="two-spaces/x"), 1, "plugin 'rib-managed' registered model 'two-spaces/*' with "
                "label space 'toy', but its loader returned a Backbone with label_space='other'")


def test_missing_weights_refuse_an_offline_run_before_any_work_naming_the_model_once(env, bench_model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = bench_model(model="ghostly/x")
    assert result.exit_code == 2
    assert "- model 'ghostly/x': weights not found in /models/ghost.safetensors; copy them there." in result.stderr
    assert "model model" not in result.stderr
    assert not (env / "out").exists()
