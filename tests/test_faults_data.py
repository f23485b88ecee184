"""Faults in the data beyond docs/reliability.md's first list: unreadable images in the fine-tuning split."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rib_core.testing import toy
from rib_core.data.images import open_images
from rib_core.data.splits import split_indices
from rib_core.engine.store import Store
from rib_core.engine.train_data import TrainData

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b"]
strategies = ["ft"]
cache = {cache}

[suites.toy.training]
epochs = 2
batch_size = 8
"""
BROKEN = ("000.png", "001.png", "002.png")  # per class: zero-byte files with an image extension


@pytest.fixture
def broken_world(tmp_path, monkeypatch, register_plugin):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    for cls in toy.CLASSES:
        for name in BROKEN:
            (tmp_path / "data" / "toy-a" / cls / name).write_bytes(b"")
    return tmp_path


def toy_a_split() -> tuple[list, np.ndarray]:
    adapter = toy.ToyDataset("toy-a", None)
    samples = adapter.samples()
    ft, _ = split_indices(samples, 0.8, 0)
    return samples, ft


@pytest.mark.parametrize("cache", ["true", "false"], ids=["cached", "streamed"])
def test_unreadable_images_in_the_fine_tuning_split_are_skipped_and_counted(broken_world, run_rib, cache):
    suite = broken_world / "suite.toml"
    suite.write_text(SUITE.format(cache=cache))
    out = broken_world / "out"
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "0",
                     "--no-report")
    assert result.exit_code == 0, result.stderr
    assert "failed" not in result.stderr and "fewer batches" not in result.stderr

    samples, ft = toy_a_split()
    bad_in_ft = sum(Path(samples[p].path).name in BROKEN for p in ft)
    assert bad_in_ft and math.ceil((len(ft) - bad_in_ft) / 8) < math.ceil(len(ft) / 8)  # the case that broke
    records = [json.loads(p.read_text()) for p in out.glob("cells/*/record.json")]
    assert len(records) == 8 and all(Store(out).record(r["key"]) is not None for r in records)
    (finetune,) = [r for r in records if r["kind"] == "finetune" and r["cell"]["ft_dataset"] == "toy-a"]
    assert finetune["ft_images"] == len(ft) and finetune["ft_unreadable"] == bad_in_ft
    per_epoch = math.ceil((len(ft) - bad_in_ft) / 8)
    assert finetune["train_log"]["batches_per_epoch"] == per_epoch
    assert finetune["train_log"]["steps_done"] == finetune["train_log"]["total_steps"] == 2 * per_epoch
    pre_a = [r for r in records if r["kind"] == "eval" and r["cell"]["strategy"] is None
             and r["cell"]["eval_dataset"] == "toy-a"]
    assert len(pre_a[0]["unreadable"]) == len(BROKEN) * len(toy.CLASSES)
    assert not list(out.glob("cells/*/failed.json")) and not list(out.rglob("*.tmp"))


def _epoch_positions(data: TrainData, epoch: int) -> list[list[int]]:
    """The batches of one epoch, as the sample positions they hold (read back from their labels is not enough)."""
    data.positions  # found before the spy: a streamed source decodes unseen images once to find them
    seen = []
    original = data.images.batches

    def spy(order, batch_size, pin_memory=False):
        for images, positions in original(order, batch_size, pin_memory=pin_memory):
            seen.append([int(p) for p in positions])
            yield images, positions

    data.images.batches = spy
    batches = list(data.epoch(epoch))
    data.images.batches = original
    assert len(batches) == data.batches_per_epoch  # what was counted is what is yielded
    return seen


def test_training_batches_do_not_depend_on_the_source_or_on_what_it_decoded_before(broken_world):
    samples, ft = toy_a_split()
    adapter = toy.ToyDataset("toy-a", None)
    preprocess = toy.load("tiny/a", weights=None, options={}).preprocess
    labels = np.array([s.label for s in samples])

    def train_data(images):
        return TrainData(images, ft, labels, preprocess, torch.device("cpu"), 8, 0, "toy-a/ft", None)

    fresh = open_images(adapter, samples, preprocess, cache_dir=None)
    warm = open_images(adapter, samples, preprocess, cache_dir=None)
    list(warm.batches(np.arange(len(samples)), 16))  # an evaluation of every image came first
    cached = open_images(adapter, samples, preprocess, cache_dir=broken_world / "cache" / "images")
    orders = [_epoch_positions(train_data(images), 1) for images in (fresh, warm, cached)]
    assert orders[0] == orders[1] == orders[2]
    flat = [p for batch in orders[0] for p in batch]
    assert sorted(flat) == sorted(p for p in ft if Path(samples[p].path).name not in BROKEN)
    assert all(len(batch) == 8 for batch in orders[0][:-1])
    assert train_data(fresh).unreadable == sum(Path(samples[p].path).name in BROKEN for p in ft)
