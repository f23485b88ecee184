"""Evaluation precision: fp32 by default, bf16/fp16 on request, and the drift between them measured."""

import numpy as np
import pytest
import torch

from rib_core.data.base import ClassMap
from rib_core.engine.evaluate import predict
from rib_core.preprocess import Preprocess

torch.set_num_threads(1)


class ArrayImages:
    """uint8 images in memory with the batches() interface predict() reads."""

    def __init__(self, images):
        self.images = images

    def batches(self, positions, batch_size, pin_memory=False):
        for start in range(0, len(positions), batch_size):
            pos = positions[start:start + batch_size]
            yield self.images[torch.as_tensor(np.asarray(pos))], pos


def tiny_vit():
    import timm

    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, embed_dim=64,
                             depth=2, num_heads=2, num_classes=10).eval()


def test_fp32_is_the_model_in_fp32_and_bf16_drifts_measurably_but_little():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=g)
    preprocess = Preprocess(input_size=32, resize_size=32)
    class_map = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(10)), tuple((i,) for i in range(10)))
    model = tiny_vit()
    positions = np.arange(64)
    run = {p: predict(model, preprocess, ArrayImages(images), positions, class_map, torch.device("cpu"), 16,
                      precision=p) for p in ("fp32", "bf16")}
    # fp32 against an independent forward of the same model in float64
    mean = torch.tensor(preprocess.mean).view(1, 3, 1, 1).double() * 255
    std = torch.tensor(preprocess.std).view(1, 3, 1, 1).double() * 255
    with torch.no_grad():
        reference = model.double()((images.double() - mean) / std).softmax(1)
    top = torch.gather(reference, 1, run["fp32"]["top_idx"].long())
    assert torch.allclose(run["fp32"]["top_prob"].double(), top, atol=1e-5)
    drift = (run["bf16"]["top_prob"][:, 0] - run["fp32"]["top_prob"][:, 0]).abs().max().item()
    assert 0 < drift < 0.05  # bf16 changes probabilities (by ~1e-3 here), so results must not be mixed


def test_a_bad_eval_precision_is_a_config_error(tmp_path):
    from rib_core.config import parse_suite
    from rib_core.errors import ConfigError

    raw = {"models": ["m"], "datasets": ["a", "b"], "strategies": ["ft"], "eval_precision": "fp64"}
    with pytest.raises(ConfigError, match="eval_precision"):
        parse_suite("s", raw, "x.toml")
    assert parse_suite("s", {k: v for k, v in raw.items() if k != "eval_precision"}, "x.toml").eval_precision == "fp32"
