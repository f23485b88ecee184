"""rib-augreg: friendly names for the AugReg ViTs, loaded through rib's timm loader (tiny models, no network)."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
timm = pytest.importorskip("timm")
from safetensors.torch import save_file  # noqa: E402

import rib_augreg  # noqa: E402
from rib_core.api import RibError, load_timm_model  # noqa: E402
from rib_core.testing.toy import TINY_TIMM_VIT  # noqa: E402

# Offline, with an empty Hugging Face cache and this test's own RIB_CACHE_DIR (rib_core.testing).
pytestmark = pytest.mark.usefixtures("rib_isolated")

TINY = TINY_TIMM_VIT  # rib_core.testing's tiny ViT-B/16


def test_every_name_is_a_timm_model_with_an_imagenet_1k_head():
    for name, timm_name in rib_augreg.MODELS.items():
        assert timm_name in timm.list_pretrained(), name
        assert timm.models.get_pretrained_cfg(timm_name).num_classes == 1000, name
        assert timm_name.partition(".")[2] in rib_augreg.TRAINING, name


def test_the_papers_augreg_models_are_there():
    paper = {"vit_base_patch16_224.augreg_in1k", "vit_base_patch16_224.augreg_in21k_ft_in1k",
             "vit_base_patch16_224.augreg2_in21k_ft_in1k", "vit_base_patch16_224.orig_in21k_ft_in1k"}
    assert paper <= set(rib_augreg.MODELS.values())
    assert rib_augreg.MODELS["augreg/vit-b16-in1k"] == "vit_base_patch16_224.augreg_in1k"


def test_the_plugin_registers_every_name_without_importing_torch(rib_registry):
    assert rib_registry.plugins["rib-augreg"].status == "ok"
    for name in rib_augreg.MODELS:
        registration = rib_registry.get("models", name)
        assert registration.plugin == "rib-augreg" and registration.load() is rib_augreg.load
        assert rib_augreg.MODELS[name] in registration.description
    code = "import sys, rib_augreg; print(sorted({'torch', 'timm'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


@pytest.mark.parametrize("name", ["augreg/vit-b16-in1k", "augreg/vit-b16-orig-in21k-ft-in1k"])
def test_a_friendly_name_loads_its_timm_model_from_a_local_file(tmp_path, name):
    timm_name = rib_augreg.MODELS[name]
    torch.manual_seed(0)
    saved = timm.create_model(timm_name, pretrained=False, **TINY).eval()
    weights = tmp_path / "vit.safetensors"
    save_file(saved.state_dict(), str(weights))

    backbone = rib_augreg.load(name, weights=str(weights), options={"model_kwargs": TINY})

    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = backbone.model(images)
        assert logits.shape == (2, 1000)
        assert torch.equal(logits, saved(images))
    assert backbone.preprocess.mean == (0.5, 0.5, 0.5) and backbone.preprocess.resize_size == 35
    assert backbone.head_prefixes == ("head.",)
    sha = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]
    assert backbone.identity.startswith(f"timm:{timm_name}+kwargs-") and backbone.identity.endswith(f"@{sha}")
    # The friendly name and timm's own name are one backbone: same identity, so cached results are shared.
    assert backbone.identity == load_timm_model(timm_name, weights=str(weights), options={"model_kwargs": TINY}).identity
    assert backbone.info["name"] == name and backbone.info["timm_model"] == timm_name


def test_missing_weights_offline_name_the_friendly_name_and_the_hub_repo():
    with pytest.raises(RibError) as caught:
        rib_augreg.load("augreg/vit-s16-in1k", weights=None, options={"model_kwargs": TINY})
    message = str(caught.value)
    assert "augreg/vit-s16-in1k" in message and "timm/vit_small_patch16_224.augreg_in1k" in message
    assert 'weights = "path/to/file.safetensors"' in message
