"""The built-in timm:* loader, on tiny random-initialised ViTs saved to tmp files (no network, no downloads)."""

import hashlib
import math
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)
timm = pytest.importorskip("timm")
from safetensors.torch import save_file  # noqa: E402

from rib_core.errors import ConfigError, RibError  # noqa: E402
from rib_core.models import timm_loader  # noqa: E402
from rib_core.testing.toy import TINY_TIMM_VIT  # noqa: E402

TINY = TINY_TIMM_VIT  # rib_core.testing's tiny ViT-B/16
VIT = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


@pytest.fixture(autouse=True)
def _offline(offline_hub):
    """Every test here runs with an empty, offline Hugging Face cache (rib_core.testing)."""


def tiny_vit(name=VIT, seed=0, **overrides):
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **(TINY | overrides)).eval()


def save(model, path):
    save_file(model.state_dict(), str(path))
    return str(path)


def sha16(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def test_safetensors_file_loads_through_timm_and_gives_the_saved_models_logits(tmp_path):
    saved = tiny_vit()
    weights = save(saved, tmp_path / "vit.safetensors")

    backbone = timm_loader.load(f"timm:{VIT}", weights=weights, options={"model_kwargs": TINY})

    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits = backbone.model(images)
        expected = saved(images)
    assert logits.shape == (3, 1000)
    assert torch.equal(logits, expected)
    assert backbone.num_classes == 1000  # label space: the registration's default, "imagenet-1k"
    assert backbone.identity.startswith(f"timm:{VIT}+kwargs-")
    assert backbone.identity.endswith(f"@{sha16(weights)}")
    assert backbone.head_prefixes == ("head.",)
    assert {n for n, _ in backbone.model.named_parameters() if backbone.is_head(n)} == {"head.weight", "head.bias"}


def test_preprocessing_comes_from_the_models_pretrained_config(tmp_path):
    augreg = timm_loader.load(f"timm:{VIT}", weights=save(tiny_vit(), tmp_path / "a.safetensors"),
                              options={"model_kwargs": TINY})
    # augreg ViTs: crop_pct 0.9, bicubic, mean = std = 0.5; the model was built for 32 px.
    assert augreg.preprocess.input_size == 32
    assert augreg.preprocess.resize_size == math.floor(32 / 0.9) == 35
    assert augreg.preprocess.interpolation == "bicubic"
    assert augreg.preprocess.mean == (0.5, 0.5, 0.5) and augreg.preprocess.std == (0.5, 0.5, 0.5)

    miil_name = "vit_base_patch16_224_miil.in21k_ft_in1k"
    miil = timm_loader.load(f"timm:{miil_name}", weights=save(tiny_vit(miil_name), tmp_path / "m.safetensors"),
                            options={"model_kwargs": TINY})
    # MIIL: crop_pct 0.875, bilinear, no normalisation.
    assert miil.preprocess.resize_size == 36
    assert miil.preprocess.interpolation == "bilinear"
    assert miil.preprocess.mean == (0.0, 0.0, 0.0) and miil.preprocess.std == (1.0, 1.0, 1.0)


def test_identity_follows_the_weights_not_the_file_name(tmp_path):
    first = save(tiny_vit(seed=0), tmp_path / "first.safetensors")
    same = save(tiny_vit(seed=0), tmp_path / "copy.safetensors")
    other = save(tiny_vit(seed=1), tmp_path / "other.safetensors")
    options = {"model_kwargs": TINY}
    identity = {p: timm_loader.load(f"timm:{VIT}", weights=p, options=options).identity for p in (first, same, other)}
    assert identity[first] == identity[same]
    assert identity[first] != identity[other]
    assert identity[other].endswith("@" + sha16(other))
    # A different architecture on the same checkpoint name is a different model.
    bigger = save(tiny_vit(depth=2), tmp_path / "deeper.safetensors")
    deeper = timm_loader.load(f"timm:{VIT}", weights=bigger, options={"model_kwargs": TINY | {"depth": 2}})
    assert deeper.identity.split("@")[0] != identity[first].split("@")[0]


class NotWeights:
    """An arbitrary pickled object: loading it would run code from the file."""


def test_torch_file_is_loaded_without_unpickling_arbitrary_objects(tmp_path):
    saved = tiny_vit()
    weights = tmp_path / "vit.pth"
    torch.save({"state_dict": saved.state_dict()}, weights)
    backbone = timm_loader.load(f"timm:{VIT}", weights=str(weights), options={"model_kwargs": TINY})
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone.model(images), saved(images))

    pickled = tmp_path / "evil.pth"
    torch.save({"state_dict": NotWeights()}, pickled)
    with pytest.raises(RibError, match="weights_only"):
        timm_loader.load(f"timm:{VIT}", weights=str(pickled), options={"model_kwargs": TINY})


def test_hub_weights_are_read_from_the_hugging_face_cache(offline_hub):
    """timm's own pretrained=True path, served from a pre-populated cache laid out as huggingface_hub does."""
    saved = tiny_vit()
    repo = offline_hub / f"models--timm--{VIT}"
    (repo / "blobs").mkdir(parents=True)
    staging = repo / "staging.safetensors"
    save(saved, staging)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    staging.rename(repo / "blobs" / digest)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").symlink_to(Path("..") / ".." / "blobs" / digest)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)

    backbone = timm_loader.load(f"timm:{VIT}", weights=None, options={"model_kwargs": TINY})

    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone.model(images), saved(images))
    assert backbone.identity.endswith("@" + digest[:16])
    assert backbone.info["hf_hub_id"] == f"timm/{VIT}"


def test_missing_hub_weights_offline_say_what_to_do():
    with pytest.raises(RibError) as caught:
        timm_loader.load(f"timm:{VIT}", weights=None, options={"model_kwargs": TINY})
    message = str(caught.value)
    assert f"timm:{VIT}" in message
    assert f"timm/{VIT}" in message and "model.safetensors" in message
    assert 'weights = "path/to/file.safetensors"' in message and "--weights" in message
    assert "Hugging Face cache" in message


def test_a_head_that_is_not_imagenet_1k_is_refused_before_any_download():
    with pytest.raises(RibError) as caught:
        timm_loader.load("timm:vit_tiny_patch16_224.augreg_in21k", weights=None, options={})
    message = str(caught.value)
    assert "21843-way" in message and "ImageNet-1k" in message
    assert "vit_tiny_patch16_224.augreg_in21k_ft_in1k" in message


def test_a_local_file_for_an_in21k_architecture_can_carry_a_1k_head(tmp_path):
    name = "vit_tiny_patch16_224.augreg_in21k"
    saved = tiny_vit(name, num_classes=1000)
    weights = save(saved, tmp_path / "ft.safetensors")
    backbone = timm_loader.load(f"timm:{name}", weights=weights, options={"model_kwargs": TINY | {"num_classes": 1000}})
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(backbone.model(images), saved(images))


def test_bad_names_and_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="vit_base_patch16_224"):
        timm_loader.load("timm:vit_base_patch16_244", weights=None, options={})
    with pytest.raises(ConfigError, match="augreg_in1k"):
        timm_loader.load("timm:vit_base_patch16_224.no_such_tag", weights=None, options={})
    with pytest.raises(ConfigError, match="model_kwargs"):
        timm_loader.load(f"timm:{VIT}", weights=None, options={"batch_size": 3})
    with pytest.raises(RibError, match="does not exist"):
        timm_loader.load(f"timm:{VIT}", weights=str(tmp_path / "missing.safetensors"), options={})


def test_timm_star_is_served_by_this_loader():
    from rib_core.plugins import build_registry

    registration = build_registry().get("models", "timm:vit_base_patch16_224.sam_in1k")
    assert registration.plugin == "rib_core.builtins"
    assert registration.load() is timm_loader.load
