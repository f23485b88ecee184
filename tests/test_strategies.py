"""The built-in strategies change exactly what they claim to, and their losses are the formulas they state."""


import numpy as np
import pytest
import torch

from rib_core.data.base import ClassMap
from rib_core.errors import ConfigError, RibError
from rib_core.models.base import Backbone
from rib_core.preprocess import Preprocess
from rib_core.strategies.base import TrainContext, TrainSettings
from rib_core.strategies.builtin import (L2SP, Freeze, FullFineTune, LearningWithoutForgetting, LinearProbe,
                                         LinearProbeThenFineTune, WiseFT)
from rib_core.engine.train import fine_tune
from rib_core.testing import TensorTrainData

torch.set_num_threads(1)
NUM_CLASSES = 10
CLASS_MAP = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(6)), ((1,), (3,), (4,), (5,), (7,), (9,)))


def tiny_vit(seed=0):
    import timm

    torch.manual_seed(seed)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=16, patch_size=8, embed_dim=16,
                             depth=1, num_heads=2, num_classes=NUM_CLASSES)


def fake_train_data(n=16, batch_size=8):
    g = torch.Generator().manual_seed(5)
    return TensorTrainData(torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 6, (n,), generator=g), batch_size,
                           identity="fake")

def make_ctx(model=None, **settings):
    model = model or tiny_vit()
    backbone = Backbone(model=model, preprocess=Preprocess(input_size=16, resize_size=16), head_prefixes=("head.",),
                        identity="tiny@test", num_classes=NUM_CLASSES)
    s = TrainSettings(**(dict(lr=0.05, epochs=2, warmup_steps=1, amp=False) | settings))
    return TrainContext(backbone=backbone, class_map=CLASS_MAP, settings=s, device=torch.device("cpu"),
                        pretrained_state={k: v.detach().clone() for k, v in model.state_dict().items()},
                        train_data=fake_train_data())


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_ft_changes_backbone_and_head(tmp_path):
    ctx = make_ctx()
    out = fine_tune(ctx, FullFineTune(), work_dir=tmp_path, seed=0)[""]
    moved = changed(ctx.pretrained_state, out)
    assert {"blocks.0.attn.qkv.weight", "patch_embed.proj.weight", "head.weight"} <= moved


def test_lp_changes_only_the_head(tmp_path):
    ctx = make_ctx()
    out = fine_tune(ctx, LinearProbe(), work_dir=tmp_path, seed=0)[""]
    assert changed(ctx.pretrained_state, out) == {"head.weight", "head.bias"}


def test_lp_released_headonly_also_trains_cls_token_pos_embed_and_final_norm(tmp_path):
    # The released code's HeadOnly froze patch_embed and blocks only.
    ctx = make_ctx()
    out = fine_tune(ctx, LinearProbe({"trainable_extra": "released"}), work_dir=tmp_path, seed=0)[""]
    assert changed(ctx.pretrained_state, out) == {"head.weight", "head.bias", "cls_token", "pos_embed",
                                                  "norm.weight", "norm.bias"}


def test_lp_trainable_extra_takes_names_and_refuses_unknown_ones(tmp_path):
    ctx = make_ctx()
    out = fine_tune(ctx, LinearProbe({"trainable_extra": ["pos_embed"]}), work_dir=tmp_path, seed=0)[""]
    assert changed(ctx.pretrained_state, out) == {"head.weight", "head.bias", "pos_embed"}
    with pytest.raises(RibError, match="pos_embd"):
        LinearProbe({"trainable_extra": ["pos_embd"]}).setup(make_ctx())
    with pytest.raises(ConfigError, match="trainable_extra"):
        LinearProbe({"trainable_extra": "everything"})


def test_lp_without_a_head_is_an_error(tmp_path):
    ctx = make_ctx()
    ctx.backbone.head_prefixes = ("classifier.",)
    with pytest.raises(RibError, match="head_prefixes"):
        LinearProbe().setup(ctx)


def test_lp_ft_starts_from_the_lp_stage_and_trains_everything(tmp_path):
    lp_ctx = make_ctx()
    lp_state = fine_tune(lp_ctx, LinearProbe(), work_dir=tmp_path / "lp", seed=0)[""]
    ctx = make_ctx()
    asked = []
    ctx.load_stage = lambda name: asked.append(name) or lp_state
    strategy = LinearProbeThenFineTune()
    strategy.setup(ctx)
    assert asked == ["lp"] and strategy.init_from == "lp"
    assert all(torch.equal(v, lp_state[k]) for k, v in ctx.model.state_dict().items())
    assert all(p.requires_grad for p in ctx.model.parameters())
    out = fine_tune(ctx, strategy, work_dir=tmp_path / "lpft", seed=0)[""]
    assert "blocks.0.mlp.fc1.weight" in changed(lp_state, out)


def test_l2sp_default_penalises_every_parameter_like_the_released_ewc_penalty():
    ctx = make_ctx()
    strategy = L2SP({"weight": 1})
    strategy.setup(ctx)
    with torch.no_grad():
        for p in ctx.model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    # the released code's ewc_penalty(model, old_model.state_dict()), computed independently in float64
    expected = sum(float(((p.detach().double() - ctx.pretrained_state[n].double()) ** 2).sum())
                   for n, p in ctx.model.named_parameters())
    assert float(strategy.extra_loss(ctx, None, None, None).detach()) == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        ctx.model.head.weight.add_(1.0)
    assert float(strategy.extra_loss(ctx, None, None, None).detach()) > expected + 0.9 * ctx.model.head.weight.numel()


def test_l2sp_penalty_without_head_is_weight_times_squared_distance_on_backbone_only():
    ctx = make_ctx()
    strategy = L2SP({"weight": 0.3, "include_head": False})
    strategy.setup(ctx)
    assert float(strategy.extra_loss(ctx, None, None, None).detach()) == 0.0
    with torch.no_grad():
        ctx.model.blocks[0].mlp.fc1.weight.add_(0.1)  # 64 x 16 entries moved by 0.1
        ctx.model.cls_token.sub_(0.2)  # 16 entries moved by 0.2
        ctx.model.head.weight.add_(5.0)  # the head is free: no penalty
    expected = 0.3 * (64 * 16 * 0.1 ** 2 + 16 * 0.2 ** 2)
    assert float(strategy.extra_loss(ctx, None, None, None).detach()) == pytest.approx(expected, rel=1e-5)


def test_lwf_loss_is_the_kl_from_the_pretrained_teacher_on_masked_logits():
    ctx = make_ctx()
    strategy = LearningWithoutForgetting({"temperature": 2.0, "weight": 0.5})
    strategy.setup(ctx)
    images = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        teacher = ctx.model(images)[:, [1, 3, 4, 5, 7, 9]].double().numpy()
        ctx.model.head.bias.add_(1.0)  # the student moves; the teacher must not
    student = torch.randn(4, 6, dtype=torch.float64)
    loss = float(strategy.extra_loss(ctx, images, student, None))

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(teacher / 2.0), softmax(student.numpy() / 2.0)
    expected = 0.5 * np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1))
    assert loss == pytest.approx(expected, rel=1e-5)
    # at the teacher's own logits the loss is 0
    assert float(strategy.extra_loss(ctx, images, torch.from_numpy(teacher), None)) == pytest.approx(0.0, abs=1e-6)


def test_wise_ft_alpha_0_is_pretrained_and_alpha_1_is_finetuned_exactly(tmp_path):
    ctx = make_ctx()
    strategy = WiseFT({"alphas": [0, 0.5, 1]})
    assert strategy.variant_labels() == ["alpha=0", "alpha=0.5", "alpha=1"]
    variants = fine_tune(ctx, strategy, work_dir=tmp_path, seed=0)
    assert list(variants) == strategy.variant_labels()
    finetuned = ctx.model.state_dict()

    images = torch.randn(5, 3, 16, 16)
    reference = tiny_vit().eval()

    def predict(state):
        reference.load_state_dict(state)
        with torch.no_grad():
            return reference(images)

    assert torch.equal(predict(variants["alpha=0"]), predict(ctx.pretrained_state))
    assert torch.equal(predict(variants["alpha=1"]), predict(finetuned))
    assert not torch.equal(predict(variants["alpha=1"]), predict(ctx.pretrained_state))
    name = "blocks.0.attn.qkv.weight"
    midpoint = (ctx.pretrained_state[name] + finetuned[name]) / 2
    assert torch.allclose(variants["alpha=0.5"][name], midpoint, atol=1e-7)


@pytest.mark.parametrize("alphas", [[], [1.5], "0.5", [0.5, 0.5]])
def test_wise_ft_rejects_bad_alphas(alphas):
    with pytest.raises(ConfigError, match="alphas"):
        WiseFT({"alphas": alphas})


def test_freeze_returns_the_pretrained_weights_exactly(tmp_path):
    ctx = make_ctx()
    strategy = Freeze()
    assert strategy.trains is False
    out = fine_tune(ctx, strategy, work_dir=tmp_path, seed=0)
    assert list(out) == [""]
    assert out[""].keys() == ctx.pretrained_state.keys()
    assert all(torch.equal(out[""][k], ctx.pretrained_state[k]) for k in ctx.pretrained_state)
    assert not list(tmp_path.glob("checkpoint*"))


def test_unknown_or_invalid_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="does not take the option"):
        L2SP({"lambda": 1})
    with pytest.raises(ConfigError, match="temperature"):
        LearningWithoutForgetting({"temperature": 0})
    with pytest.raises(ConfigError, match="weight"):
        L2SP({"weight": -1})


def test_strategies_and_metrics_take_name_and_description_from_registration_only():
    from rib_core.plugins import Registry

    registry = Registry()
    registry.add_plugin(__import__("rib_core.builtins", fromlist=["x"]), "rib_core.builtins", builtin=True)
    names = [r.name for r in registry.names("strategies")]
    assert names == sorted(["ft", "lp", "lp-ft", "l2-sp", "lwf", "wise-ft", "soup", "freeze"])
    for kind in ("strategies", "metrics"):
        for reg in registry.names(kind):
            cls = reg.load()
            # One source of truth: a class that restated its name or description could disagree with it.
            assert "name" not in vars(cls) and "description" not in vars(cls), (kind, reg.name)
            assert reg.create().name == reg.name
