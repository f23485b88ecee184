"""rib-openai-clip on tiny random-initialised models saved to tmp files, loaded through the plugin's real paths."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
open_clip = pytest.importorskip("open_clip")
timm = pytest.importorskip("timm")
from rib_clip import testing as clip_testing  # noqa: E402
from rib_clip.testing import TINY_CLIP, TINY_VIT, save  # noqa: E402,F401
from safetensors.torch import load_file  # noqa: E402

import rib_openai_clip  # noqa: E402
from rib_core.api import ConfigError, RibError, load_timm_model  # noqa: E402

# Offline, with an empty Hugging Face cache and this test's own RIB_CACHE_DIR (rib_core.testing).
pytestmark = pytest.mark.usefixtures("rib_isolated")

ZEROSHOT_NAME = "openai-clip/vit-b16-zeroshot"


def tiny_clip(seed=0):
    """What the plugin must rebuild: ViT-B-16 with QuickGELU, as the 'openai' weights were trained."""
    return clip_testing.tiny_clip("ViT-B-16", seed=seed, quick_gelu=True, logit_scale=2.0)


def load_zeroshot(weights, templates="simple", **options):
    return rib_openai_clip.load(ZEROSHOT_NAME, weights=weights,
                                options={"templates": templates, "model_kwargs": TINY_CLIP} | options)


def independent_class_embeddings(model, templates, classnames):
    """CLIP's recipe written out: embed every prompt, normalise, average per class, renormalise."""
    tokenizer = open_clip.get_tokenizer("ViT-B-16", context_length=model.context_length)
    rows = []
    with torch.no_grad():
        texts = [template(c) for c in classnames for template in templates]
        embedded = F.normalize(model.encode_text(tokenizer(texts)), dim=-1)
        for per_class in embedded.view(len(classnames), len(templates), -1):
            rows.append(F.normalize(per_class.mean(dim=0), dim=-1))
    return torch.stack(rows)


# -- the name tables ----------------------------------------------------------------------------------------

def test_every_finetuned_name_is_a_timm_model_with_an_imagenet_1k_head():
    for name, timm_name in rib_openai_clip.FINETUNED.items():
        assert timm_name in timm.list_pretrained(), name
        assert timm.models.get_pretrained_cfg(timm_name).num_classes == 1000, name
        assert ".openai" in timm_name


def test_every_zeroshot_name_is_an_open_clip_model_with_openai_weights():
    known = set(open_clip.list_pretrained())
    for name, (architecture, tag) in rib_openai_clip.ZEROSHOT.items():
        assert (architecture, tag) in known, name
        assert tag == "openai"


def test_the_plugin_registers_every_name_without_importing_torch(rib_registry):
    assert rib_registry.plugins["rib-openai-clip"].status == "ok"
    for name in list(rib_openai_clip.FINETUNED) + list(rib_openai_clip.ZEROSHOT):
        registration = rib_registry.get("models", name)
        assert registration.plugin == "rib-openai-clip"
        assert registration.load() is rib_openai_clip.load
    code = "import sys, rib_openai_clip; print(sorted({'torch', 'open_clip', 'timm'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


# -- fine-tuned CLIP ViTs through timm ------------------------------------------------------------------------

def test_finetuned_clip_vit_loads_a_local_file_through_timm(tmp_path):
    timm_name = rib_openai_clip.FINETUNED["openai-clip/vit-b16-ft-in1k"]
    torch.manual_seed(0)
    saved = timm.create_model(timm_name, pretrained=False, **TINY_VIT).eval()
    weights = save(saved, tmp_path / "clip-ft.safetensors")

    backbone = rib_openai_clip.load("openai-clip/vit-b16-ft-in1k", weights=weights,
                                    options={"model_kwargs": TINY_VIT})

    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = backbone.model(images)
        assert logits.shape == (2, 1000)
        assert torch.equal(logits, saved(images))
    assert backbone.preprocess.mean == open_clip.OPENAI_DATASET_MEAN
    assert backbone.preprocess.std == open_clip.OPENAI_DATASET_STD
    assert (backbone.preprocess.input_size, backbone.preprocess.resize_size) == (32, 35)  # crop_pct 0.9
    assert backbone.head_prefixes == ("head.",)
    # The alias and timm's own name are one backbone: same identity, so cached results are shared.
    same = load_timm_model(timm_name, weights=weights, options={"model_kwargs": TINY_VIT})
    assert backbone.identity == same.identity
    assert backbone.info["name"] == "openai-clip/vit-b16-ft-in1k"


# -- zero-shot classifiers through open_clip ------------------------------------------------------------------

def test_zeroshot_logits_are_clips_own_zero_shot_logits(tmp_path):
    saved = tiny_clip()
    backbone = load_zeroshot(save(saved, tmp_path / "clip.safetensors"))

    classes = list(range(0, 1000, 50)) + [999]
    expected_rows = independent_class_embeddings(saved, open_clip.SIMPLE_IMAGENET_TEMPLATES,
                                                 [open_clip.IMAGENET_CLASSNAMES[i] for i in classes])
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = backbone.model(images)
        image_features = F.normalize(saved.encode_image(images), dim=-1)
    expected = saved.logit_scale.exp() * image_features @ expected_rows.T
    assert logits.shape == (2, 1000)
    assert torch.allclose(logits[:, classes], expected, atol=1e-4, rtol=1e-4)
    assert backbone.num_classes == 1000  # label space: declared by the registration (default "imagenet-1k")


def test_stored_head_rows_are_unit_norm_and_match_open_clips_encoders(tmp_path, rib_cache):
    saved = tiny_clip()
    backbone = load_zeroshot(save(saved, tmp_path / "clip.safetensors"))

    [cache_file] = (rib_cache / "zeroshot-heads").iterdir()
    assert Path(backbone.info["zeroshot_head"]) == cache_file
    stored = load_file(str(cache_file))["class_embeddings"]
    assert stored.shape == (1000, 16)
    assert torch.allclose(stored.norm(dim=1), torch.ones(1000), atol=1e-5)
    some = [0, 1, 207, 500, 999]
    expected = independent_class_embeddings(saved, open_clip.SIMPLE_IMAGENET_TEMPLATES,
                                            [open_clip.IMAGENET_CLASSNAMES[i] for i in some])
    assert torch.allclose(stored[some], expected, atol=1e-5)
    # The head the model uses is those rows times CLIP's temperature.
    assert torch.allclose(backbone.model.head.weight, stored * torch.exp(torch.tensor(2.0)), atol=1e-5)


def test_the_head_is_built_once_then_read_from_the_cache(tmp_path, rib_cache, monkeypatch):
    weights = save(tiny_clip(), tmp_path / "clip.safetensors")
    calls = []
    encode_text = open_clip.CLIP.encode_text
    monkeypatch.setattr(open_clip.CLIP, "encode_text", lambda self, *a, **k: calls.append(1) or encode_text(self, *a, **k))
    first = load_zeroshot(weights)
    assert calls, "the first load must build the head with the text encoder"

    calls.clear()
    second = load_zeroshot(weights)
    assert calls == []
    assert torch.equal(first.model.head.weight, second.model.head.weight)
    assert len(list((rib_cache / "zeroshot-heads").iterdir())) == 1


def test_default_templates_are_the_80_openai_imagenet_prompts(tmp_path, monkeypatch):
    seen = {}

    def spy(model, tokenizer, classnames, templates, **kwargs):
        seen.update(classnames=classnames, templates=templates)
        return F.normalize(torch.randn(16, len(classnames)), dim=0)

    monkeypatch.setattr(open_clip, "build_zero_shot_classifier", spy)
    weights = save(tiny_clip(), tmp_path / "clip.safetensors")
    default = rib_openai_clip.load(ZEROSHOT_NAME, weights=weights, options={"model_kwargs": TINY_CLIP})
    assert seen["templates"] is open_clip.OPENAI_IMAGENET_TEMPLATES and len(seen["templates"]) == 80
    assert seen["classnames"] is open_clip.IMAGENET_CLASSNAMES
    assert default.info["templates"] == "openai"
    simple = load_zeroshot(weights, templates="simple")
    assert seen["templates"] is open_clip.SIMPLE_IMAGENET_TEMPLATES
    assert default.identity != simple.identity


def test_zeroshot_preprocessing_comes_from_open_clip(tmp_path):
    backbone = load_zeroshot(save(tiny_clip(), tmp_path / "clip.safetensors"))
    preprocess = backbone.preprocess
    assert (preprocess.input_size, preprocess.resize_size) == (32, 32)  # shorter side to size, centre crop
    assert preprocess.interpolation == "bicubic"
    assert preprocess.mean == open_clip.OPENAI_DATASET_MEAN and preprocess.std == open_clip.OPENAI_DATASET_STD
    assert backbone.head_prefixes == ("head.",)
    head = {n for n, _ in backbone.model.named_parameters() if backbone.is_head(n)}
    assert head == {"head.weight"}
    assert len(backbone.backbone_parameters()) > 0 and all(
        n.startswith("visual.") for n, _ in backbone.model.named_parameters() if not backbone.is_head(n))


def test_zeroshot_identity_follows_weights_and_templates(tmp_path):
    first = save(tiny_clip(seed=0), tmp_path / "a.safetensors")
    copy = save(tiny_clip(seed=0), tmp_path / "b.safetensors")
    other = save(tiny_clip(seed=1), tmp_path / "c.safetensors")
    identities = {p: load_zeroshot(p).identity for p in (first, copy, other)}
    assert identities[first] == identities[copy]
    assert identities[first] != identities[other]
    sha = hashlib.sha256(Path(other).read_bytes()).hexdigest()[:16]
    assert identities[other].startswith(f"{ZEROSHOT_NAME}+kwargs-") and f"@{sha}-" in identities[other]


def test_zeroshot_reads_a_torch_file_without_unpickling(tmp_path):
    saved = tiny_clip()
    weights = tmp_path / "clip.pt"
    torch.save(saved.state_dict(), weights)
    backbone = load_zeroshot(str(weights))
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        features = F.normalize(saved.encode_image(images), dim=-1)
        assert torch.allclose(backbone.model.head(features), backbone.model(images), atol=1e-6)


def test_missing_zeroshot_weights_offline_say_what_to_do():
    with pytest.raises(RibError) as caught:
        rib_openai_clip.load(ZEROSHOT_NAME, weights=None, options={})
    message = str(caught.value)
    assert ZEROSHOT_NAME in message and "ViT-B-16" in message and "'openai'" in message
    assert "timm/vit_base_patch16_clip_224.openai" in message
    assert 'weights = "path/to/file.safetensors"' in message and "--weights" in message


def test_missing_finetuned_weights_offline_name_the_alias():
    with pytest.raises(RibError) as caught:
        rib_openai_clip.load("openai-clip/vit-b32-ft-in1k", weights=None, options={"model_kwargs": TINY_VIT})
    message = str(caught.value)
    assert "openai-clip/vit-b32-ft-in1k" in message and "timm/vit_base_patch32_clip_224.openai_ft_in1k" in message


def test_bad_zeroshot_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="templates"):
        rib_openai_clip.load(ZEROSHOT_NAME, weights=None, options={"templates": "fancy"})
    with pytest.raises(ConfigError, match="accepts"):
        rib_openai_clip.load(ZEROSHOT_NAME, weights=None, options={"prompts": "openai"})
    with pytest.raises(RibError, match="does not exist"):
        rib_openai_clip.load(ZEROSHOT_NAME, weights=str(tmp_path / "nope.safetensors"), options={})


def test_weights_of_another_architecture_are_refused(tmp_path, rib_cache):
    torch.manual_seed(0)
    wrong = open_clip.create_model("ViT-B-16", pretrained=None, **(TINY_CLIP | {"embed_dim": 8}))
    with pytest.raises(RibError, match="do not fit"):
        load_zeroshot(save(wrong, tmp_path / "wrong.safetensors"))
    assert not (rib_cache / "zeroshot-heads").exists()


def test_zeroshot_hub_weights_come_from_the_hugging_face_cache(tmp_path, put_in_hf_cache):
    """No `weights`: open_clip resolves the 'openai' tag to its hub file, here a tiny one in the offline cache."""
    saved = tiny_clip()
    sha = put_in_hf_cache("timm/vit_base_patch16_clip_224.openai", "open_clip_model.safetensors",
                          save(saved, tmp_path / "clip.safetensors"))
    backbone = rib_openai_clip.load(ZEROSHOT_NAME, weights=None,
                                    options={"templates": "simple", "model_kwargs": TINY_CLIP})
    assert f"@{sha[:16]}-" in backbone.identity
    from_file = load_zeroshot(str(tmp_path / "clip.safetensors"))
    assert from_file.identity == backbone.identity
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone.model(images), from_file.model(images))
