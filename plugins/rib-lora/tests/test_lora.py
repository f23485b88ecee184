"""LoRA: frozen base weights, adapters only, exact merge, low-rank updates, timm and open_clip layouts."""


import pytest
import torch

from rib_core.api import ClassMap, ConfigError, RibError
from rib_core.testing import fine_tune, random_train_data, tiny_vit, train_context
from rib_lora.strategy import LoRA

torch.set_num_threads(1)
CLASS_MAP = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(10)), tuple((i,) for i in range(10)))
DIM = 16


def timm_vit():
    return tiny_vit(num_classes=10, image_size=16, depth=2, seed=0)


def open_clip_tower():
    from open_clip.transformer import VisionTransformer

    torch.manual_seed(0)
    return VisionTransformer(image_size=16, patch_size=8, width=DIM, layers=2, heads=2, mlp_ratio=2.0, output_dim=10)


def make_ctx(model, head=("head.",), epochs=3):
    return train_context(model, random_train_data(n=16, batch_size=8), class_map=CLASS_MAP, head_prefixes=head,
                         lr=0.5, epochs=epochs)


def test_the_plugin_registers_lora_through_its_entry_point(rib_registry):
    registration = rib_registry.get("strategies", "lora")
    assert registration.plugin == "rib-lora"
    assert registration.load() is LoRA


def test_default_trains_adapters_and_the_released_codes_top_level_set():
    # The released code froze only blocks (all but lora_*), patch_embed and head: cls_token, pos_embed and the
    # final norm stayed trainable (vit_tiny has an Identity norm_pre and fc_norm: no parameters there).
    ctx = make_ctx(timm_vit())
    LoRA().setup(ctx)
    trainable = sorted(n for n, p in ctx.model.named_parameters() if p.requires_grad)
    adapters = [f"blocks.{b}.attn.qkv.parametrizations.weight.0.lora_{m}_{x}"
                for b in range(2) for m in "AB" for x in "qv"]
    assert trainable == sorted(adapters + ["cls_token", "pos_embed", "norm.weight", "norm.bias"])


def test_clip_layout_also_trains_norm_pre():
    import timm

    model = timm.create_model("vit_base_patch16_clip_224", pretrained=False, img_size=16, patch_size=8,
                              embed_dim=DIM, depth=1, num_heads=2, num_classes=10)
    ctx = make_ctx(model)
    LoRA().setup(ctx)
    base = sorted(n for n, p in ctx.model.named_parameters() if p.requires_grad and "lora_" not in n)
    assert base == sorted(["cls_token", "pos_embed", "norm_pre.weight", "norm_pre.bias", "norm.weight", "norm.bias"])


def test_trainable_extra_empty_trains_only_adapters_on_q_and_v():
    ctx = make_ctx(timm_vit())
    LoRA({"trainable_extra": []}).setup(ctx)
    trainable = sorted(n for n, p in ctx.model.named_parameters() if p.requires_grad)
    expected = sorted(f"blocks.{b}.attn.qkv.parametrizations.weight.0.lora_{m}_{x}"
                      for b in range(2) for m in "AB" for x in "qv")
    assert trainable == expected
    # one backward: gradients reach the adapters and nothing else
    ctx.model(torch.randn(2, 3, 16, 16)).sum().backward()
    for name, p in ctx.model.named_parameters():
        assert (p.grad is not None) == (name in expected), name


def test_scale_is_alpha_over_rank():
    ctx = make_ctx(timm_vit())
    LoRA({"rank": 4, "alpha": 2}).setup(ctx)
    qkv = ctx.model.blocks[0].attn.qkv
    adapter = qkv.parametrizations.weight[0]
    with torch.no_grad():
        adapter.lora_B_v.normal_()
    w0 = ctx.pretrained_state["blocks.0.attn.qkv.weight"]
    expected = w0.clone()
    expected[2 * DIM:] += (2 / 4) * adapter.lora_B_v.detach() @ adapter.lora_A_v.detach()
    assert torch.allclose(qkv.weight, expected, atol=1e-6)


def test_training_keeps_base_weights_and_merges_exactly(tmp_path):
    rank = 2
    ctx = make_ctx(timm_vit())
    merged = fine_tune(ctx, LoRA({"rank": rank, "alpha": 8, "trainable_extra": []}), work_dir=tmp_path, seed=0)[""]
    pre = ctx.pretrained_state

    # the frozen originals are bit-identical, and so is every weight LoRA does not touch
    for b in range(2):
        original = ctx.model.blocks[b].attn.qkv.parametrizations.weight.original
        assert torch.equal(original, pre[f"blocks.{b}.attn.qkv.weight"])
    assert merged.keys() == pre.keys()
    untouched = [k for k in pre if not k.endswith("attn.qkv.weight")]
    assert all(torch.equal(merged[k], pre[k]) for k in untouched)

    # q and v moved by a rank <= r update, k did not move at all
    for b in range(2):
        delta = merged[f"blocks.{b}.attn.qkv.weight"] - pre[f"blocks.{b}.attn.qkv.weight"]
        q, k, v = delta[:DIM], delta[DIM:2 * DIM], delta[2 * DIM:]
        assert torch.equal(k, torch.zeros_like(k))
        for part in (q, v):
            singular = torch.linalg.svdvals(part.double())
            assert singular[0] > 1e-3  # it trained
            # beyond the rank only the merge's float rounding remains (~1e-8 here, vs >= 1e-2 above)
            assert singular[rank] < 1e-5 * singular[0]

    # merged plain weights give the adapted model's outputs
    images = torch.randn(4, 3, 16, 16)
    plain = timm_vit().eval()
    plain.load_state_dict(merged)
    with torch.no_grad():
        assert torch.allclose(plain(images), ctx.model.eval()(images), atol=1e-5)


def test_train_head_also_trains_the_classifier(tmp_path):
    ctx = make_ctx(timm_vit(), epochs=1)
    merged = fine_tune(ctx, LoRA({"train_head": True}), work_dir=tmp_path, seed=0)[""]
    assert not torch.equal(merged["head.weight"], ctx.pretrained_state["head.weight"])
    assert torch.equal(merged["blocks.0.mlp.fc1.weight"], ctx.pretrained_state["blocks.0.mlp.fc1.weight"])


def test_an_unknown_trainable_extra_name_is_refused_naming_the_models_names():
    with pytest.raises(RibError, match="cls_tokn.*cls_token"):
        LoRA({"trainable_extra": ["cls_tokn"]}).setup(make_ctx(timm_vit()))


def test_open_clip_tower_multihead_attention(tmp_path):
    ctx = make_ctx(open_clip_tower(), head=("proj",))
    merged = fine_tune(ctx, LoRA({"targets": "vq", "trainable_extra": []}), work_dir=tmp_path, seed=0)[""]
    pre = ctx.pretrained_state
    assert merged.keys() == pre.keys()
    name = "transformer.resblocks.0.attn.in_proj_weight"
    delta = merged[name] - pre[name]
    assert delta[:DIM].abs().max() > 1e-4 and delta[2 * DIM:].abs().max() > 1e-4
    assert torch.equal(delta[DIM:2 * DIM], torch.zeros(DIM, DIM))
    assert torch.equal(merged["proj"], pre["proj"])
    images = torch.randn(3, 3, 16, 16)
    plain = open_clip_tower().eval()
    plain.load_state_dict(merged)
    with torch.no_grad():
        assert torch.allclose(plain(images), ctx.model.eval()(images), atol=1e-5)


def test_resume_restores_the_adapters(tmp_path):
    expected = fine_tune(make_ctx(timm_vit()), LoRA(), work_dir=tmp_path / "a", seed=0)[""]

    def stop(step, total, loss):
        if step == 3:  # the first step of epoch 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fine_tune(make_ctx(timm_vit()), LoRA(), work_dir=tmp_path / "b", seed=0, on_step=stop)
    resumed = fine_tune(make_ctx(timm_vit()), LoRA(), work_dir=tmp_path / "b", seed=0)[""]
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


def test_a_model_without_attention_is_refused():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
    with pytest.raises(RibError, match="no fused attention projection"):
        LoRA().setup(make_ctx(model, head=("1.",)))


@pytest.mark.parametrize("params, word", [({"rank": 0}, "rank"), ({"alpha": -1}, "alpha"),
                                          ({"targets": "qx"}, "targets"), ({"train_head": "yes"}, "train_head"),
                                          ({"dropout": 0.1}, "does not take the option"),
                                          ({"trainable_extra": "all"}, "trainable_extra")])
def test_bad_parameters_are_config_errors(params, word):
    with pytest.raises(ConfigError, match=word):
        LoRA(params)
