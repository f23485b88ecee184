"""visual-prompt: only the prompt trains, it is added where the released code adds it, and it folds exactly."""


import pytest
import torch

from rib_core.api import Backbone, ClassMap, ConfigError, Preprocess, RibError, TrainContext, TrainSettings
from rib_core.testing import TensorTrainData, fine_tune
from rib_visual_prompt.strategy import PadPrompt, VisualPrompt

torch.set_num_threads(1)
CLASS_MAP = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(10)), tuple((i,) for i in range(10)))
SIZE = 32


def timm_vit(name="vit_tiny_patch16_224"):
    import timm

    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, img_size=SIZE, patch_size=8, embed_dim=16, depth=1,
                             num_heads=2, num_classes=10)


def fake_train_data(n=16, batch_size=8):
    g = torch.Generator().manual_seed(1)
    return TensorTrainData(torch.randn(n, 3, SIZE, SIZE, generator=g), torch.randint(0, 10, (n,), generator=g),
                           batch_size, identity="fake", shuffle=False)

def make_ctx(model):
    backbone = Backbone(model=model, preprocess=Preprocess(input_size=SIZE, resize_size=SIZE), head_prefixes=("head.",),
                        identity="tiny@test", num_classes=10)
    settings = TrainSettings(lr=0.5, epochs=2, warmup_steps=1, amp=False)
    return TrainContext(backbone=backbone, class_map=CLASS_MAP, settings=settings, device=torch.device("cpu"),
                        pretrained_state={k: v.detach().clone() for k, v in model.state_dict().items()},
                        train_data=fake_train_data())


def test_the_plugin_registers_visual_prompt_through_its_entry_point(rib_registry):
    registration = rib_registry.get("strategies", "visual-prompt")
    assert registration.plugin == "rib-visual-prompt" and registration.load() is VisualPrompt


def test_the_prompt_is_a_frame_of_width_pixels_around_a_zero_centre():
    prompt = PadPrompt(SIZE, 5)
    image = prompt.image()[0]
    assert image.shape == (3, SIZE, SIZE)
    assert torch.equal(image[:, 5:-5, 5:-5], torch.zeros(3, SIZE - 10, SIZE - 10))
    assert (image[:, :5] != 0).all() and (image[:, -5:] != 0).all()
    assert (image[:, :, :5] != 0).all() and (image[:, :, -5:] != 0).all()
    assert sum(p.numel() for p in prompt.parameters()) == 3 * (SIZE * SIZE - (SIZE - 10) ** 2)


def test_only_prompt_parameters_change_and_the_folded_weights_reproduce_the_prompted_model(tmp_path):
    ctx = make_ctx(timm_vit())
    strategy = VisualPrompt({"width": 5})
    out = fine_tune(ctx, strategy, work_dir=tmp_path, seed=0)[""]
    trained = {n for n, p in ctx.model.named_parameters() if p.requires_grad}
    assert trained == {f"visual_prompt.{s}" for s in ("top", "bottom", "left", "right")}
    model_state = ctx.model.state_dict()
    assert all(torch.equal(model_state[k], ctx.pretrained_state[k]) for k in ctx.pretrained_state)  # backbone untouched
    assert out.keys() == ctx.pretrained_state.keys()
    assert {k for k in out if not torch.equal(out[k], ctx.pretrained_state[k])} == {"pos_embed"}

    # Independent computation: the released code's forward, prompt added to the normalised image, then the
    # pretrained model; against the plain model carrying the folded weights.
    images = torch.randn(4, 3, SIZE, SIZE)
    pretrained = timm_vit().eval()
    folded = timm_vit().eval()
    folded.load_state_dict(out)
    with torch.no_grad():
        expected = pretrained(images + ctx.model.visual_prompt.image())
        assert torch.allclose(folded(images), expected, atol=1e-5)
        assert not torch.allclose(pretrained(images), expected, atol=1e-3)  # the prompt does something


def test_clip_layout_with_norm_pre_folds_too():
    model = timm_vit("vit_base_patch16_clip_224").eval()
    ctx = make_ctx(model)
    strategy = VisualPrompt({"width": 3})
    strategy.setup(ctx)
    state = strategy.finalize(ctx)[""]
    images = torch.randn(2, 3, SIZE, SIZE)
    plain = timm_vit("vit_base_patch16_clip_224").eval()
    plain.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(plain(images), ctx.model(images), atol=1e-5)


def test_a_zero_prompt_gives_the_pretrained_models_outputs_exactly():
    ctx = make_ctx(timm_vit())
    strategy = VisualPrompt({"init": "zeros", "width": 6})
    strategy.setup(ctx)
    images = torch.randn(3, 3, SIZE, SIZE)
    pretrained = timm_vit().eval()
    with torch.no_grad():
        assert torch.equal(ctx.model(images), pretrained(images))
    state = strategy.finalize(ctx)[""]
    assert all(torch.equal(state[k], ctx.pretrained_state[k]) for k in ctx.pretrained_state)


def test_train_head_also_trains_the_head(tmp_path):
    ctx = make_ctx(timm_vit())
    out = fine_tune(ctx, VisualPrompt({"width": 4, "train_head": True}), work_dir=tmp_path, seed=0)[""]
    assert {k for k in out if not torch.equal(out[k], ctx.pretrained_state[k])} == {"pos_embed", "head.weight", "head.bias"}


def test_a_backbone_it_cannot_fold_into_is_refused():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * SIZE * SIZE, 10))
    with pytest.raises(RibError, match="timm VisionTransformer"):
        VisualPrompt({"width": 4}).setup(make_ctx(model))


@pytest.mark.parametrize("params, word", [({"width": 0}, "width"), ({"width": 16}, "width"),
                                          ({"init": "ones"}, "init"), ({"train_head": 1}, "train_head")])
def test_bad_parameters_are_config_errors(params, word):
    with pytest.raises(ConfigError, match=word):
        VisualPrompt(params).setup(make_ctx(timm_vit()))
