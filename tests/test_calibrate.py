"""The dry run's calibration never fails silently (issue 30): a BatchNorm model is timed at the smallest batch it
accepts, sizes come from the model itself, and every figure says whether it was measured or from a table, and why."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from rib_core.testing import toy
from rib_core.api import Backbone, Preprocess, hookimpl
from rib_core.engine.calibrate import CalibrationError, measure
from rib_core.engine.estimate import _files
from rib_core.training import TrainSettings


def bn_cnn(classes: int = 4) -> nn.Module:
    """BatchNorm1d after global pooling: a training batch of one image raises 'Expected more than 1 value per
    channel when training' (what made the old calibration fall back to the ViT-B/16 table)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.BatchNorm1d(8), nn.Linear(8, classes))


def test_a_batchnorm_model_is_timed_from_the_smallest_batch_it_accepts_up_to_the_runs():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        bn_cnn().train()(torch.zeros(1, 3, 8, 8))
    eval_rate, eval_batch, train_rate, train_batch = measure(bn_cnn(), 8, torch.device("cpu"), eval_batch=16,
                                                             train_batch=8, amp=False)
    assert (eval_batch, train_batch) == (16, 8)  # the run's own batches: each call is short
    assert eval_rate > 0 and train_rate > 0


def test_a_model_that_fails_at_every_batch_says_what_failed():  # a Linear fed images
    with pytest.raises(CalibrationError, match=r"inference failed at every batch size from 1 to 4 \(RuntimeError: "
                                               r"mat1 and mat2 shapes cannot be multiplied"):
        measure(nn.Linear(2, 2), 8, torch.device("cpu"), eval_batch=4, train_batch=4,
                amp=False)


def test_files_a_fine_tune_writes_count_its_epoch_checkpoints_and_variants():
    settings = TrainSettings(epochs=3)
    strategies = {"wise": SimpleNamespace(trains=True, variant_labels=lambda: ["alpha=0.5", "alpha=1"])}
    cell = SimpleNamespace(kind="finetune", strategy="wise", work=10)
    files, written = _files(cell, settings, strategies, parameters=1000)
    assert files == 3 * 3 + 2 + 2  # per epoch: checkpoint, its manifest, train log; a file per variant; log, record
    assert written == 2 * 1000 * 4 + 3 * 1000 * 4 * 2  # weights, and weights + momentum per epoch
    assert _files(SimpleNamespace(kind="eval", work=50), settings, strategies, 1000) == (2, 5000)


class BatchNormPlugin:
    @hookimpl
    def register_models(self, register):
        register("bn/*", "tests.test_calibrate:load_bn", "a BatchNorm CNN (tests)", label_space="toy",
                 architecture="tests.test_calibrate:bn_architecture")


def bn_architecture(name, *, options=None):
    return bn_cnn(), toy.SIZE


def load_bn(name, *, weights=None, options=None):
    return Backbone(model=bn_cnn().eval(), preprocess=Preprocess(input_size=toy.SIZE, resize_size=toy.SIZE),
                    head_prefixes=("6.",), identity=f"{name}@test", num_classes=4)


SUITE = """
[suites.toy]
models = [{models}]
datasets = ["toy-a", "toy-b"]
strategies = ["ft", "lp"]
eval_batch_size = 16
[suites.toy.training]
epochs = 2
batch_size = 8
"""


@pytest.fixture
def dry_run(tmp_path, monkeypatch, register_plugin, run_rib):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=4)
    register_plugin(BatchNormPlugin(), "rib-test-bn")

    def run(models, *extra):
        suite = tmp_path / "suite.toml"
        suite.write_text(SUITE.format(models=models))
        result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--dry-run", "--device", "cpu",
                         *extra)
        assert result.exit_code == 0, result.stderr
        return " ".join(result.stdout.replace("│", " ").split())
    return run


def test_the_dry_run_of_a_batchnorm_model_measures_it_and_sizes_it_from_its_own_parameters(dry_run):
    out = dry_run('"bn/cnn"')
    parameters = sum(p.numel() for p in bn_cnn().parameters())
    assert f"parameters, from each model's architecture: bn/cnn {parameters / 1e3:.1f}k" in out
    assert re.search(r"measured here: bn/cnn [\d,]+ img/s inference, [\d,]+ training \(batches 16, 8\)", out)
    assert "ViT-B/16" not in out  # nothing falls back to the table
    # 2 fine-tunes x 2 strategies, one fp32 weights file each: a few KB, not a ViT-B/16's 344 MB.
    assert "fine-tuned weights ~0 MB" in out
    parts = re.search(r"of which models \d+ s; start-up \d+ s \(this process\); writing ([\d,]+) files \d+ s "
                      r"\(measured here: [\d.]+ ms a file, [\d,]+ MB/s\); decoding ([\d,]+) images into the cache \d+ "
                      r"s \(measured here", out)
    assert parts, out
    assert int(parts[2].replace(",", "")) == 2 * 16  # both datasets, 4 classes x 4 images each


def test_a_model_without_architecture_says_its_sizes_and_rates_are_the_tables_and_why(dry_run):
    out = dry_run('"tiny/a"')
    why = "its plugin 'toy' registers no architecture="
    assert f"tiny/a: ViT-B/16's 86M assumed, because {why}" in out
    assert f"ViT-B/16 table, 6 img/s (docs/performance.md), for tiny/a (tiny/a: {why})" in out


def test_no_calibrate_says_the_rates_are_the_tables_but_sizes_still_come_from_the_model(dry_run):
    out = dry_run('"bn/cnn"', "--no-calibrate")
    assert "ViT-B/16 table, 6 img/s (docs/performance.md), for bn/cnn (bn/cnn: --no-calibrate)" in out
    assert f"bn/cnn {sum(p.numel() for p in bn_cnn().parameters()) / 1e3:.1f}k" in out
    assert "start-up" in out and "(table:" in out
