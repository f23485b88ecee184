"""rib's cached uint8 images are exactly what timm's eval transform feeds the model (differential test)."""

import numpy as np
import pytest
import torch
from PIL import Image

SIZES = [(500, 375), (375, 500), (224, 224), (1024, 683), (683, 1024), (248, 248), (249, 500), (500, 249),
         (300, 301), (640, 480), (333, 777), (225, 1000), (1000, 225), (800, 600), (97, 130)]


def photo(w, h, seed):
    rng = np.random.default_rng(seed)
    # smooth gradients plus noise: resampling differences would show, unlike on a flat image
    x, y = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    base = np.stack([x, y, (x + y) / 2], axis=-1) + rng.normal(0, 20, (h, w, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("arch", ["vit_base_patch16_224", "vit_base_patch16_clip_224"])
def test_rib_uint8_equals_timm_create_transform_on_many_sizes(arch):
    import timm
    from timm.data import create_transform, resolve_data_config

    from rib_core.models.timm_loader import preprocess_from_timm

    model = timm.create_model(arch, pretrained=False, depth=1, embed_dim=32, num_heads=2)  # config only
    config = resolve_data_config(model=model)
    timm_transform = create_transform(**config)
    ours = preprocess_from_timm(model, arch)
    mean = torch.tensor(config["mean"]).view(3, 1, 1)
    std = torch.tensor(config["std"]).view(3, 1, 1)
    for i, (w, h) in enumerate(SIZES):
        image = photo(w, h, i)
        expected = timm_transform(image)  # normalised float, what timm's validate.py feeds the model
        as_uint8 = torch.round((expected * std + mean) * 255).to(torch.uint8)
        got = ours.to_uint8(image)
        assert torch.equal(got, as_uint8), f"{w}x{h}: {(got.int() - as_uint8.int()).abs().max()} levels apart"
        normalised = ours.normalize(got[None])[0]
        assert torch.allclose(normalised, expected, atol=1e-5), f"{w}x{h}"


def test_the_issue_example_500x375_resizes_to_330x248():
    from rib_core.preprocess import Preprocess

    assert Preprocess(input_size=224, resize_size=248).resized_size(500, 375) == (330, 248)
    assert Preprocess(input_size=224, resize_size=248).resized_size(375, 500) == (248, 330)
