"""Reliability, before anything runs: a bad suite, an unknown name or a broken plugin.

Each case goes through the real CLI (`rib bench`, not --dry-run) and must end in one screen of text, exit code 2,
no traceback, and no results directory: nothing was started.
"""

from __future__ import annotations

import json
import sys

import pytest

from rib_core.api import hookimpl
from rib_core.plugins import get_registry, reset_registry
from tests.helpers import VALID_SUITE as VALID
from tests.helpers import bench_refuses, refused_with

# Plugins the project ships; disabled where a test needs "not installed" hints.
SHIPPED_PLUGINS = "rib-openai-clip,rib-laion,rib-augreg,rib-lora,rib-ewc"


@pytest.fixture
def bare_registry(monkeypatch):
    """A registry without the shipped plugins, as after `pip install rib-core` alone."""
    monkeypatch.setenv("RIB_DISABLE_PLUGINS", SHIPPED_PLUGINS)
    reset_registry()
    yield get_registry()
    reset_registry()


# -- config ----------------------------------------------------------------------------------------------------
BAD_SUITES = {  # case: (suite text, fragments the message must contain)
    "toml-syntax-error": ("[suites.s]\nmodels = [\"a\"\n", ["suite.toml:", "TOML syntax error"]),
    "unknown-key": (VALID + "strategy = ['lp']\n", ["unknown key 'strategy'", "Did you mean 'strategies'"]),
    "unknown-training-key": (VALID + "[suites.s.training]\nepoch = 2\n",
                             ["unknown key 'epoch'", "Did you mean 'epochs'"]),
    "wrong-type": (VALID + "seed = \"zero\"\n", ["suites.s.seed: expected an integer", "'zero'"]),
    "bool-for-int": (VALID + "eval_batch_size = true\n", ["eval_batch_size: expected an integer"]),
    "wrong-training-type": (VALID + "[suites.s.training]\nlr = \"fast\"\n",
                            ["suites.s.training.lr: expected a number", "'fast'"]),
    "float-for-int-in-training": (VALID + "[suites.s.training]\nepochs = 2.5\n",
                                  ["training.epochs: expected an integer"]),
    "bool-for-number-in-training": (VALID + "[suites.s.training]\nlr = true\n", ["training.lr: expected a number"]),
    "empty-suite": ("[suites.s]\n", ["'models' is empty"]),
    "no-suites": ("default = \"s\"\n", ["no suites found"]),
    "no-strategies": (VALID.replace('strategies = ["ft"]', "strategies = []"), ["'strategies' is empty"]),
    "dataset-listed-twice": (VALID.replace('"imagenet-a"]', '"imagenet-r"]'),
                             ["dataset 'imagenet-r' is listed twice"]),
    "fewer-than-2-datasets": (VALID.replace('["imagenet-r", "imagenet-a"]', '["imagenet-r"]'),
                              ["lists 1 dataset(s); RI needs at least 2"]),
    "reference-also-downstream": (VALID + 'reference = "imagenet-a"\n',
                                  ["'imagenet-a' is both a downstream dataset and the reference set"]),
    "split-outside-0-1": (VALID + "split = 1.0\n", ["between 0 and 1"]),
    "bad-eval-images": (VALID + 'eval_images = "test"\n', ["eval_images", '"all", "held-out" or "held-out-sources"']),
    "several-suites-none-chosen": (VALID + VALID.replace("suites.s", "suites.t"), ["choose one with --suite"]),
}


@pytest.mark.parametrize("case", list(BAD_SUITES))
def test_bad_suite_is_one_screen_exit_2_and_nothing_starts(run_rib, rib_registry, tmp_path, case):
    refused_with(run_rib, tmp_path, *BAD_SUITES[case])


def test_missing_suite_file_is_exit_2(run_rib, rib_registry, tmp_path):
    out = tmp_path / "out"
    result = run_rib("bench", "-c", str(tmp_path / "nope.toml"), "--out", str(out))
    assert result.exit_code == 2 and "does not exist" in result.stderr and not out.exists()


# -- names -----------------------------------------------------------------------------------------------------
UNKNOWN_NAMES = {  # case: (change to the valid suite, fragments the message must contain)
    "model": (("timm:vit_tiny_patch16_224", "tim:vit_tiny_patch16_224"), ["unknown model 'tim:vit_tiny_patch16_224'"]),
    "dataset": (('"imagenet-a"]', '"imagenet-skecth"]'),
                ["unknown dataset 'imagenet-skecth'", "Did you mean: 'imagenet-sketch'"]),
    "strategy": (('["ft"]', '["lp_ft"]'), ["unknown strategy 'lp_ft'", "'lp-ft'"]),
    "metric": (('strategies = ["ft"]', 'strategies = ["ft"]\nmetrics = ["forgeting"]'),
               ["unknown metric 'forgeting'", "Did you mean: 'forgetting'"]),
}


@pytest.mark.parametrize("case", list(UNKNOWN_NAMES))
def test_unknown_names_suggest_the_closest_and_exit_2(run_rib, rib_registry, tmp_path, case):
    change, expected = UNKNOWN_NAMES[case]
    stderr = bench_refuses(run_rib, tmp_path, VALID.replace(*change))
    for fragment in expected:
        assert fragment in stderr, stderr


@pytest.mark.parametrize("change, plugin", [
    (("timm:vit_tiny_patch16_224", "openai-clip/vit-b16-ft-in1k"), "rib-openai-clip"),
    (("timm:vit_tiny_patch16_224", "laion/vit-b16-laion2b-ft-in1k"), "rib-laion"),
    (('["ft"]', '["lora"]'), "rib-lora"),
    (('["ft"]', '["ewc"]'), "rib-ewc"),
], ids=["rib-openai-clip", "rib-laion", "rib-lora", "rib-ewc"])
def test_a_name_from_an_uninstalled_plugin_says_what_to_install(run_rib, bare_registry, tmp_path, change, plugin):
    stderr = bench_refuses(run_rib, tmp_path, VALID.replace(*change))
    assert f"pip install {plugin}" in stderr


def test_optional_strategy_of_an_uninstalled_plugin_is_skipped_not_fatal(run_rib, bare_registry, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(VALID.replace('["ft"]', '["ft", {name = "lora", optional = true}]'))
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--dry-run", "--no-calibrate")
    assert "strategy 'lora' skipped: its plugin is not installed" in result.stderr
    assert "unknown strategy" not in result.stderr


# -- safety: a suite names registered things, never import paths -----------------------------------------------
def test_a_suite_cannot_name_an_import_path(run_rib, rib_registry, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nclass Thing: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for change in (("timm:vit_tiny_patch16_224", "evil_module:Thing"),
                   ('"imagenet-a"]', '{name = "x", adapter = "evil_module:Thing"}]'),
                   ('["ft"]', '["evil_module:Thing"]'),
                   ('strategies = ["ft"]', 'strategies = ["ft"]\nmetrics = ["evil_module:Thing"]')):
        stderr = bench_refuses(run_rib, tmp_path, VALID.replace(*change))
        assert "unknown" in stderr
    assert not marker.exists(), "a module named in a suite was imported"
    assert "evil_module" not in sys.modules


# -- plugins failing before the run ---------------------------------------------------------------------------
class RaisesAtRegistration:
    @hookimpl
    def register_strategies(self, register):
        register("half-registered", "x:y")
        raise RuntimeError("boom while registering")


def test_plugin_raising_at_registration_is_named_and_its_names_are_withdrawn(register_plugin, rib_registry, run_rib):
    info = register_plugin(RaisesAtRegistration(), "rib-flaky")
    assert info.error == "registration failed: RuntimeError: boom while registering"
    statuses = {p["name"]: p["status"] for p in json.loads(run_rib("plugins", "--json").stdout)}
    assert "boom while registering" in statuses["rib-flaky"]
    assert statuses["rib_core.builtins"] == "ok"
    listing = run_rib("list", "strategies", "--json")
    names = {r["name"] for r in json.loads(listing.stdout)}
    assert "half-registered" not in names and "ft" in names
