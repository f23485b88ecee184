"""rib_core.testing as a plugin author meets it: fixtures without any conftest, the strategy-test kit, the toy
suite, the dataset trees and the isolation fixture."""

import json
import os
import re
import subprocess
import sys

import pytest
import torch

from rib_core.api import Metric, Option, Strategy, hookimpl
from rib_core.data.fixtures import DATASETS as FIXTURE_DATASETS
from rib_core.data.fixtures import FIXTURE_CORRUPTIONS, FIXTURE_SEVERITIES
from rib_core.strategies.builtin import LinearProbe
from rib_core.testing import fine_tune, make_dataset_tree, random_train_data, tiny_vit, train_context
from tests.helpers import REPO

torch.set_num_threads(1)


def test_the_fixtures_need_no_conftest_and_pytest_plugins_is_not_needed(tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "def test_listed(run_rib):\n"
        "    result = run_rib('list', 'formats', '--json')\n"
        "    assert result.exit_code == 0 and '\"table\"' in result.stdout\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_what_the_docs_say_about_pytest_plugins_is_what_pytest_does(tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "def test_listed(run_rib):\n    assert run_rib('list', 'formats', '--json').exit_code == 0\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["rib_core.testing"]\n')
    pytest_ = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    twice = subprocess.run(pytest_, capture_output=True, text=True, cwd=tmp_path)
    assert twice.returncode != 0 and "Plugin already registered under a different name" in twice.stderr, twice.stderr
    (tmp_path / "conftest.py").unlink()
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    by_hand = subprocess.run(pytest_ + ["-p", "rib"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert by_hand.returncode == 0 and "1 passed" in by_hand.stdout, by_hand.stdout + by_hand.stderr


def test_docs_do_not_advise_registering_the_pytest_plugin_twice():
    text = (REPO / "docs" / "plugins.md").read_text()
    assert "do not add `pytest_plugins = [\"rib_core.testing\"]`" in text  # only as a warning
    assert text.count("pytest_plugins") == 1


def test_the_kit_trains_a_tiny_vit_with_ribs_own_loop(tmp_path):
    ctx = train_context(tiny_vit(), random_train_data(n=16, batch_size=8), lr=0.5)
    after = fine_tune(ctx, LinearProbe(), tmp_path)[""]
    changed = {k for k, v in after.items() if not torch.equal(v, ctx.pretrained_state[k])}
    assert changed == {"head.weight", "head.bias"}
    again = fine_tune(train_context(tiny_vit(), random_train_data(n=16, batch_size=8), lr=0.5), LinearProbe(),
                      tmp_path / "again")[""]
    assert all(torch.equal(after[k], again[k]) for k in after)  # same seed, same machine: the same weights


# -- the toy suite, data trees and isolation -----------------------------------------------------------------------
class HeadAndNorm(Strategy):
    """A strategy plugin under test: trains the head and the final norm only."""

    accepted_options = {"scale": Option(float, default=1.0)}

    def setup(self, ctx):
        for name, parameter in ctx.model.named_parameters():
            parameter.requires_grad = name.startswith(("head.", "norm."))


class ImagesSeen(Metric):
    """A metric plugin under test: the number of images of each evaluation."""

    def compute(self, results):
        return [{"metric": self.name, "model": e.model, "strategy": e.strategy, "ft_dataset": e.ft_dataset,
                 "eval_dataset": e.eval_dataset, "value": float(len(e.predictions["labels"]))}
                for e in results.evaluations]


class KitPlugin:
    @hookimpl
    def register_strategies(self, register):
        register("kit-head-norm", f"{__name__}:HeadAndNorm", "head and final norm (testing kit)")

    @hookimpl
    def register_metrics(self, register):
        register("kit-images", f"{__name__}:ImagesSeen", "images per evaluation (testing kit)")


def test_a_registered_strategy_and_metric_run_end_to_end_on_the_toy_suite(register_plugin, run_rib, toy_suite,
                                                                          rib_cache, tmp_path):
    register_plugin(KitPlugin(), "rib-kit")
    suite = toy_suite(["lp", {"name": "kit-head-norm", "scale": 2.0}], metrics=["kit-images", "id-gain"])
    out = tmp_path / "out"
    bench = run_rib("bench", "-c", str(suite), "--out", str(out), "--no-report")
    assert bench.exit_code == 0, bench.stderr
    # 1 model: 3 pretrained evaluations, 2 strategies x 2 fine-tuning sets (4 fine-tunes of 20 images in batches
    # of 10: 2 steps each) x 3 evaluations.
    assert re.search(r"\b19 cell\(s\) run, 0 reused; \d+ image forwards, 8 training steps", bench.stderr), bench.stderr
    report = run_rib("report", str(out), "--format", "json")
    assert report.exit_code == 0, report.stderr
    data = json.loads(report.stdout)
    assert {m["strategy"] for m in data["mri"]} == {"lp", "kit-head-norm"}
    assert {m["model"] for m in data["mri"]} == {"demo/narrow"}
    counted = {(m["strategy"], m["ft_dataset"], m["eval_dataset"]): m["value"] for m in data["metrics"]
               if m["metric"] == "kit-images"}
    accuracies = {(a["strategy"], a["ft_dataset"], a["eval_dataset"]): a["n_images"] for a in data["accuracies"]}
    assert len(counted) == 3 + 2 * 2 * 3 and counted == {k: float(v) for k, v in accuracies.items()}
    assert counted[(None, None, "demo-source")] == 40.0  # max_images
    assert counted[("kit-head-norm", "demo-photo", "demo-photo")] == 20.0  # the held-out half
    assert (rib_cache / "images").is_dir()  # the decoded-image cache went to the test's own RIB_CACHE_DIR
    again = run_rib("bench", "-c", str(suite), "--out", str(out), "--no-report")
    assert again.exit_code == 0 and re.search(r"\b0 cell\(s\) run, 19 reused", again.stderr), again.stderr


def test_an_unknown_strategy_in_the_toy_suite_is_a_config_error(run_rib, toy_suite, tmp_path):
    result = run_rib("bench", "-c", str(toy_suite(["no-such-strategy"])), "--out", str(tmp_path / "out"))
    assert result.exit_code != 0 and "no-such-strategy" in result.stderr


@pytest.mark.parametrize("name", ["imagenet-r", "imagenet-c", "objectnet"])
def test_dataset_trees_are_found_and_readable_by_rib_datasets_check(run_rib, tmp_path, name):
    folder = make_dataset_tree(name, tmp_path / "data", n_classes=2, per_class=2)
    assert folder.parent == tmp_path / "data" and folder.is_dir()
    result = run_rib("datasets", "check", "--data-root", str(tmp_path / "data"), name, "--deep", "--json")
    (check,) = json.loads(result.stdout)
    assert check["found"] and check["root"] == str(folder), check
    assert check["verdict"] == "partial" and result.exit_code == 1  # 2 classes are not the published 1000
    per_tree = {"imagenet-c": 2 * 2 * len(FIXTURE_CORRUPTIONS) * len(FIXTURE_SEVERITIES)}
    assert check["images"] == per_tree.get(name, 2 * 2) and check["classes"] == 2
    assert not check.get("unreadable"), check


def test_the_dataset_tree_docstring_names_every_tree():
    assert all(name in make_dataset_tree.__doc__ for name in FIXTURE_DATASETS)


def test_rib_isolated_sets_the_environment(rib_isolated, tmp_path):
    from huggingface_hub import constants

    assert os.environ["RIB_CACHE_DIR"] == str(rib_isolated.cache) and rib_isolated.cache.parent == tmp_path
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE
    assert constants.HF_HUB_CACHE == str(rib_isolated.hub) and list(rib_isolated.hub.iterdir()) == []
    assert "RIB_DATA_ROOT" not in os.environ
    from rib_core.api import cache_dir

    assert cache_dir() == rib_isolated.cache


def test_pytestmark_usefixtures_isolates_a_plugins_tests_without_a_conftest(tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "import os\nimport pytest\n\npytestmark = pytest.mark.usefixtures('rib_isolated')\n\n"
        "def test_isolated(tmp_path):\n"
        "    assert os.environ['RIB_CACHE_DIR'].startswith(str(tmp_path))\n"
        "    assert os.environ['HF_HUB_OFFLINE'] == '1' and 'RIB_DATA_ROOT' not in os.environ\n")
    env = dict(os.environ, RIB_DATA_ROOT=str(tmp_path / "mine"), RIB_CACHE_DIR=str(tmp_path / "mine"))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
