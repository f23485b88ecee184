"""Tiny CLIP models for the CLIP plugins' tests: random-initialised, saved to a file, loaded through the
plugins' real paths (open_clip `pretrained=PATH`, timm `pretrained_cfg_overlay=dict(file=...)`)."""

from __future__ import annotations

# A tiny open_clip CLIP, as overrides of the architecture's own config (open_clip's **model_kwargs).
TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
# A tiny timm ViT, as overrides of a CLIP ViT's timm config.
TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2, "img_size": 32}


def tiny_clip(architecture: str = "ViT-B-16", *, seed: int = 0, quick_gelu: bool = False, logit_scale: float = 2.0):
    """A tiny `architecture` CLIP; `quick_gelu` as OpenAI's weights were trained (LAION's use plain GELU). The
    logit scale is set away from its init value, so a loader that drops the temperature shows."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    model = open_clip.create_model(architecture, pretrained=None, force_quick_gelu=quick_gelu, **TINY_CLIP).eval()
    with torch.no_grad():
        model.logit_scale.fill_(logit_scale)
    return model


def save(model, path) -> str:
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(path))
    return str(path)
