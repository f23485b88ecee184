"""The fine-tuning loop: schedule, gradient accumulation, exact resume, divergence, torn checkpoints."""

import json
import logging
import math

import pytest
import torch

from rib_core.errors import RibError
from rib_core.strategies.base import Strategy
from rib_core.strategies.builtin import Freeze, FullFineTune
from rib_core.engine.train import TrainingDiverged, count_steps, fine_tune, lr_at
from tests.train_helpers import fake_train_data, make_ctx, settings, tiny_vit

torch.set_num_threads(1)


def test_count_steps_rounds_accumulation_groups_up_and_caps_at_max_steps():
    assert count_steps(settings(epochs=3, grad_accum=1), 10) == 30
    assert count_steps(settings(epochs=3, grad_accum=4), 10) == 9  # 4 + 4 + 2 batches per epoch
    assert count_steps(settings(epochs=3, grad_accum=4, max_steps=5), 10) == 5


def test_schedule_is_linear_warmup_then_cosine_to_zero():
    s = settings(lr=0.1, warmup_steps=4)
    total = 12
    assert [lr_at(i, total, s) for i in range(4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    for step in (4, 7, 11):
        assert lr_at(step, total, s) == pytest.approx(0.05 * (1 + math.cos(math.pi * (step - 4) / 8)))
    assert 0 < lr_at(11, total, s) < lr_at(10, total, s)
    # no warm-up: the first step runs at the full rate
    assert lr_at(0, total, settings(lr=0.1, warmup_steps=0)) == pytest.approx(0.1)


def test_train_log_records_every_step_with_the_scheduled_lr(tmp_path):
    s = settings(epochs=2)
    fine_tune(make_ctx(s), FullFineTune(), work_dir=tmp_path, seed=0)
    log = json.loads((tmp_path / "train_log.json").read_text())
    total = count_steps(s, 3)
    assert log["total_steps"] == log["steps_done"] == total == 6
    assert log["lr"] == pytest.approx([lr_at(i, total, s) for i in range(total)])
    assert len(log["loss"]) == total and all(math.isfinite(x) and x > 0 for x in log["loss"])


def test_max_steps_stops_mid_epoch(tmp_path):
    steps = []
    fine_tune(make_ctx(settings(max_steps=4)), FullFineTune(), work_dir=tmp_path, seed=0,
              on_step=lambda step, total, loss: steps.append((step, total)))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    """Two accumulated batches of 4 make the same step as one batch of 8 (same images: the order ignores size)."""
    big = make_ctx(settings(max_steps=1, momentum=0.0), data=fake_train_data(batch_size=8))
    fine_tune(big, FullFineTune(), work_dir=tmp_path / "big", seed=0)
    small = make_ctx(settings(max_steps=1, momentum=0.0, grad_accum=2), data=fake_train_data(batch_size=4))
    fine_tune(small, FullFineTune(), work_dir=tmp_path / "small", seed=0)
    pre = big.pretrained_state
    for name, p in big.model.state_dict().items():
        q = small.model.state_dict()[name]
        assert torch.allclose(p, q, atol=1e-6), name
    assert not torch.equal(big.model.state_dict()["blocks.0.mlp.fc1.weight"], pre["blocks.0.mlp.fc1.weight"])


def interrupt_at(step_to_fail):
    def on_step(step, total, loss):
        if step == step_to_fail:
            raise KeyboardInterrupt
    return on_step


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_resume_after_interruption_is_bit_identical(tmp_path, optimizer):
    # Dropout makes the result depend on the RNG state too, not only on the data order.
    s = settings(optimizer=optimizer, lr=0.01 if optimizer == "adamw" else 0.05, epochs=3)
    uninterrupted = make_ctx(s, model=tiny_vit(drop_rate=0.2))
    expected = fine_tune(uninterrupted, FullFineTune(), work_dir=tmp_path / "a", seed=7)[""]
    expected_log = json.loads((tmp_path / "a" / "train_log.json").read_text())

    work = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):  # killed during the first step of epoch 2 (3 steps per epoch)
        fine_tune(make_ctx(s, model=tiny_vit(drop_rate=0.2)), FullFineTune(), work_dir=work, seed=7,
                  on_step=interrupt_at(4))
    steps_seen = []
    resumed = fine_tune(make_ctx(s, model=tiny_vit(drop_rate=0.2)), FullFineTune(), work_dir=work, seed=7,
                        on_step=lambda step, total, loss: steps_seen.append(step))[""]
    assert steps_seen == [4, 5, 6, 7, 8, 9]  # epoch 1 was not repeated
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), name
    log = json.loads((work / "train_log.json").read_text())
    assert log["loss"] == expected_log["loss"] and log["lr"] == expected_log["lr"]
    assert log["resumed_from_step"] == 3
    assert len(list(work.glob("checkpoint-*.safetensors"))) == 1  # older checkpoints are removed


def test_a_finished_run_is_not_trained_again(tmp_path):
    s = settings(epochs=1)
    first = fine_tune(make_ctx(s), FullFineTune(), work_dir=tmp_path, seed=0)[""]
    steps = []
    again = fine_tune(make_ctx(s), FullFineTune(), work_dir=tmp_path, seed=0, on_step=lambda *a: steps.append(a))[""]
    assert steps == []
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_torn_checkpoint_is_ignored(tmp_path, caplog):
    s = settings(epochs=2)
    clean = fine_tune(make_ctx(s), FullFineTune(), work_dir=tmp_path / "clean", seed=3)[""]
    work = tmp_path / "torn"
    with pytest.raises(KeyboardInterrupt):
        fine_tune(make_ctx(s), FullFineTune(), work_dir=work, seed=3, on_step=interrupt_at(4))
    # A crash between writing the weights and the json: the json names a file whose bytes differ.
    weights = next(work.glob("checkpoint-*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    steps = []
    with caplog.at_level(logging.WARNING):
        result = fine_tune(make_ctx(s), FullFineTune(), work_dir=work, seed=3,
                           on_step=lambda step, total, loss: steps.append(step))[""]
    assert steps[0] == 1  # started over
    assert "checksum" in caplog.text
    assert all(torch.equal(clean[k], result[k]) for k in clean)


class ExplodesAtStep3(Strategy):
    name = "explodes"

    def setup(self, ctx):
        super().setup(ctx)
        ctx.state["calls"] = 0

    def extra_loss(self, ctx, images, logits, labels):
        ctx.state["calls"] += 1
        return torch.tensor(float("nan")) if ctx.state["calls"] == 3 else None


def test_nan_loss_raises_training_diverged_naming_the_step(tmp_path):
    ctx = make_ctx(settings())
    with pytest.raises(TrainingDiverged) as info:
        fine_tune(ctx, ExplodesAtStep3(), work_dir=tmp_path, seed=0)
    message = str(info.value)
    assert "step 3/9" in message and "nan" in message
    assert "at step 2" in message  # the last finite loss
    assert isinstance(info.value, RibError)
    for name, value in ctx.model.state_dict().items():
        assert torch.isfinite(value).all(), name  # the bad step never reached the weights


class TrainsNothing(Strategy):
    name = "nothing"

    def setup(self, ctx):
        ctx.model.requires_grad_(False)


def test_a_strategy_that_freezes_everything_is_told_so(tmp_path):
    with pytest.raises(RibError, match="left no parameter trainable"):
        fine_tune(make_ctx(settings()), TrainsNothing(), work_dir=tmp_path, seed=0)


def test_strategy_that_does_not_train_never_optimises(tmp_path):
    ctx = make_ctx(settings())
    called = []
    ctx.train_data.epoch = lambda i: called.append(i) or iter(())
    out = fine_tune(ctx, Freeze(), work_dir=tmp_path, seed=0, on_step=lambda *a: called.append(a))
    assert called == []
    assert all(torch.equal(out[""][k], ctx.pretrained_state[k]) for k in ctx.pretrained_state)
    assert json.loads((tmp_path / "train_log.json").read_text())["trained"] is False
