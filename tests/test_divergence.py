"""A fine-tune whose loss or gradients stop being finite fails its cell with a message that says so (issue 30):
no NaN weights are stored, and the failure is what `rib status` shows."""

from __future__ import annotations

import json

import pytest
import torch

from rib_core.testing import toy
from rib_core.api import Option, Strategy, hookimpl
from rib_core.engine.train import TrainingDiverged, fine_tune
from tests.train_helpers import make_ctx, settings


class InfiniteGradient(torch.autograd.Function):
    """0 forward (the loss stays finite), an infinite gradient backward: what an overflow in backward looks like."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sum() * 0

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return torch.full_like(x, float("inf"))


class GradientExplodesAtStep(Strategy):
    """Full fine-tuning whose extra loss is 0 but whose gradient is infinite at optimizer step `at`."""

    accepted_options = {"at": Option(int, default=3)}

    def setup(self, ctx):
        super().setup(ctx)
        ctx.state["calls"] = 0

    def extra_loss(self, ctx, images, logits, labels):
        ctx.state["calls"] += 1
        if ctx.state["calls"] == self.params["at"]:
            return InfiniteGradient.apply(logits)
        return None


def test_an_infinite_gradient_with_a_finite_loss_fails_the_step_and_leaves_the_weights_finite(tmp_path):
    ctx = make_ctx(settings())
    strategy = GradientExplodesAtStep()
    with pytest.raises(TrainingDiverged) as info:
        fine_tune(ctx, strategy, work_dir=tmp_path, seed=0)
    message = str(info.value)
    assert message.startswith("training diverged at step 3/9: the loss is ")
    assert any(f"but the gradients' norm is {bad}" in message for bad in ("inf", "nan"))  # inf through the layers
    assert "Lower [training] lr, set clip_grad," in message
    assert "(last finite loss: " in message and " at step 2)" in message
    for name, value in ctx.model.state_dict().items():
        assert torch.isfinite(value).all(), name  # the bad step never reached the weights


def test_with_clip_grad_set_the_message_says_clipping_cannot_help(tmp_path):
    ctx = make_ctx(settings(clip_grad=1.0))
    with pytest.raises(TrainingDiverged, match=r"step 3/9: .*gradients' norm is (inf|nan).*Lower \[training\] lr "
                                                r"\(clip_grad = 1 cannot scale a non-finite gradient\)"):
        fine_tune(ctx, GradientExplodesAtStep(), work_dir=tmp_path, seed=0)
    for name, value in ctx.model.state_dict().items():
        assert torch.isfinite(value).all(), name


class ExplodingPlugin:
    @hookimpl
    def register_strategies(self, register):
        register("explode", "tests.test_divergence:GradientExplodesAtStep", "gradient inf at a step (tests)")


SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b"]
strategies = ["ft", {{ name = "explode", at = 2 }}]
eval_batch_size = 16

[suites.toy.training]
lr = 0.05
epochs = 1
warmup_steps = 1
batch_size = 8
{extra}
"""


def test_a_diverged_fine_tune_is_a_failed_cell_with_its_message_in_failed_json_and_rib_status(
        tmp_path, monkeypatch, register_plugin, run_rib):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    register_plugin(ExplodingPlugin(), "rib-test-explode")
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(extra=""))
    out = tmp_path / "out"
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "0", "--no-report")
    assert result.exit_code == 1
    failed = [json.loads(p.read_text()) for p in out.glob("cells/*/failed.json")]
    assert len(failed) == 2 and all(f["cell"]["kind"] == "finetune" and f["cell"]["strategy"] == "explode"
                                    for f in failed)
    assert all(f["error"].startswith("training diverged at step 2/") and "but the gradients' norm is" in f["error"]
               for f in failed)
    assert not [p for p in out.glob("cells/*/weights*.safetensors")
                if json.loads((p.parent / "record.json").read_text())["cell"]["strategy"] == "explode"]
    status = run_rib("status", str(out))
    assert "2 failed" in status.stdout and "training diverged at step 2" in status.stdout
