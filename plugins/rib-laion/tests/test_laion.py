"""rib-laion on tiny random-initialised models saved to tmp files, loaded through the plugin's real paths."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
open_clip = pytest.importorskip("open_clip")
timm = pytest.importorskip("timm")
from rib_clip import testing as clip_testing  # noqa: E402
from rib_clip.testing import TINY_CLIP, TINY_VIT, save  # noqa: E402,F401
from safetensors.torch import load_file  # noqa: E402

import rib_laion  # noqa: E402
from rib_core.api import RibError  # noqa: E402

# Offline, with an empty Hugging Face cache and this test's own RIB_CACHE_DIR (rib_core.testing).
pytestmark = pytest.mark.usefixtures("rib_isolated")

ZEROSHOT_NAME = "laion/vit-b16-laion2b-zeroshot"


def tiny_clip(seed=0):
    """What the plugin must rebuild: ViT-B-16 with plain GELU, as the LAION-2B weights were trained."""
    return clip_testing.tiny_clip("ViT-B-16", seed=seed, quick_gelu=False, logit_scale=2.5)


def test_every_finetuned_name_is_a_laion_timm_model_with_an_imagenet_1k_head():
    for name, timm_name in rib_laion.FINETUNED.items():
        assert timm_name in timm.list_pretrained(), name
        assert timm.models.get_pretrained_cfg(timm_name).num_classes == 1000, name
        assert ".laion2b" in timm_name
    assert rib_laion.FINETUNED["laion/vit-b16-laion2b-ft-in1k"] == "vit_base_patch16_clip_224.laion2b_ft_in1k"


def test_every_zeroshot_name_is_an_open_clip_model_with_laion_weights():
    known = set(open_clip.list_pretrained())
    for name, (architecture, tag) in rib_laion.ZEROSHOT.items():
        assert (architecture, tag) in known, name
        assert tag.startswith("laion"), name
    assert rib_laion.ZEROSHOT[ZEROSHOT_NAME] == ("ViT-B-16", "laion2b_s34b_b88k")


def test_the_plugin_registers_every_name_without_importing_torch(rib_registry):
    assert rib_registry.plugins["rib-laion"].status == "ok"
    for name in list(rib_laion.FINETUNED) + list(rib_laion.ZEROSHOT):
        registration = rib_registry.get("models", name)
        assert registration.plugin == "rib-laion" and registration.load() is rib_laion.load
    code = "import sys, rib_laion; print(sorted({'torch', 'open_clip', 'timm'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_finetuned_laion_vit_loads_a_local_file_through_timm(tmp_path):
    timm_name = rib_laion.FINETUNED["laion/vit-b16-laion2b-ft-in1k"]
    torch.manual_seed(0)
    saved = timm.create_model(timm_name, pretrained=False, **TINY_VIT).eval()
    backbone = rib_laion.load("laion/vit-b16-laion2b-ft-in1k", weights=save(saved, tmp_path / "ft.safetensors"),
                              options={"model_kwargs": TINY_VIT})
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert backbone.model(images).shape == (2, 1000)
        assert torch.equal(backbone.model(images), saved(images))
    # laion2b_ft_in1k is evaluated without a crop margin (crop_pct 1.0), with CLIP's normalisation.
    assert (backbone.preprocess.input_size, backbone.preprocess.resize_size) == (32, 32)
    assert backbone.preprocess.mean == open_clip.OPENAI_DATASET_MEAN


def test_zeroshot_classifier_reproduces_clip_and_caches_unit_rows(tmp_path, rib_cache):
    saved = tiny_clip()
    backbone = rib_laion.load(ZEROSHOT_NAME, weights=save(saved, tmp_path / "clip.safetensors"),
                              options={"templates": "simple", "model_kwargs": TINY_CLIP})

    tokenizer = open_clip.get_tokenizer("ViT-B-16", context_length=saved.context_length)
    templates = open_clip.SIMPLE_IMAGENET_TEMPLATES
    classes = [0, 1, 2, 3, 4, 5, 6, 7, 9]
    rows = []
    with torch.no_grad():
        for index in classes:  # CLIP's recipe, written out independently of open_clip's helper
            texts = tokenizer([t(open_clip.IMAGENET_CLASSNAMES[index]) for t in templates])
            rows.append(F.normalize(F.normalize(saved.encode_text(texts), dim=-1).mean(dim=0), dim=-1))
        images = torch.randn(2, 3, 32, 32)
        expected = saved.logit_scale.exp() * F.normalize(saved.encode_image(images), dim=-1) @ torch.stack(rows).T
        logits = backbone.model(images)
    assert logits.shape == (2, 1000)
    assert torch.allclose(logits[:, classes], expected, atol=1e-4, rtol=1e-4)

    [cache_file] = (rib_cache / "zeroshot-heads").iterdir()
    stored = load_file(str(cache_file))["class_embeddings"]
    assert torch.allclose(stored.norm(dim=1), torch.ones(1000), atol=1e-5)
    assert torch.allclose(stored[classes], torch.stack(rows), atol=1e-5)


def test_zeroshot_hub_weights_come_from_the_hugging_face_cache(tmp_path, put_in_hf_cache):
    saved = tiny_clip()
    sha = put_in_hf_cache("laion/CLIP-ViT-B-16-laion2B-s34B-b88K", "open_clip_model.safetensors",
                          save(saved, tmp_path / "clip.safetensors"))
    backbone = rib_laion.load(ZEROSHOT_NAME, weights=None, options={"templates": "simple", "model_kwargs": TINY_CLIP})
    assert backbone.identity.startswith(ZEROSHOT_NAME) and f"@{sha[:16]}-" in backbone.identity
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        features = F.normalize(saved.encode_image(images), dim=-1)
        assert torch.allclose(backbone.model(images), backbone.model.head(features), atol=1e-6)


def test_missing_weights_offline_say_what_to_do():
    with pytest.raises(RibError) as caught:
        rib_laion.load(ZEROSHOT_NAME, weights=None, options={})
    message = str(caught.value)
    assert ZEROSHOT_NAME in message and "laion/CLIP-ViT-B-16-laion2B-s34B-b88K" in message
    assert 'weights = "path/to/file.safetensors"' in message and "--weights" in message
