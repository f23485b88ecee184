"""rib backbones: OpenAI CLIP image towers, fine-tuned on ImageNet-1k (through timm) or zero-shot (through open_clip).

Fine-tuned names are aliases of timm models and load through rib's `timm:*` loader. Zero-shot names build CLIP's
image tower with a 1000-way head made from open_clip's ImageNet class names and prompt templates
(`rib_clip.zeroshot`, shared with rib-laion through the rib-clip library). Nothing here imports torch or open_clip: the loaders are
imported when a suite uses a name.
"""

from rib_core.api import Option, hookimpl

# Friendly name -> timm model name: CLIP image towers fine-tuned on ImageNet-1k (the paper's "OpenAI CLIP").
FINETUNED = {
    "openai-clip/vit-b16-ft-in1k": "vit_base_patch16_clip_224.openai_ft_in1k",
    "openai-clip/vit-b16-384-ft-in1k": "vit_base_patch16_clip_384.openai_ft_in1k",
    "openai-clip/vit-b32-ft-in1k": "vit_base_patch32_clip_224.openai_ft_in1k",
    "openai-clip/vit-l14-ft-in1k": "vit_large_patch14_clip_224.openai_ft_in1k",
}

# Friendly name -> (open_clip architecture, open_clip pretrained tag): zero-shot classifiers.
ZEROSHOT = {
    "openai-clip/rn50-zeroshot": ("RN50", "openai"),
    "openai-clip/vit-b32-zeroshot": ("ViT-B-32", "openai"),
    "openai-clip/vit-b16-zeroshot": ("ViT-B-16", "openai"),
    "openai-clip/vit-l14-zeroshot": ("ViT-L-14", "openai"),
    "openai-clip/vit-l14-336-zeroshot": ("ViT-L-14-336", "openai"),
}


@hookimpl
def register_models(register):
    for name, timm_name in FINETUNED.items():
        register(name, "rib_openai_clip:load", f"OpenAI CLIP fine-tuned on IN-1k: timm {timm_name}", weights_status="rib_openai_clip:weights_status",
                 architecture="rib_openai_clip:architecture")
    for name, (architecture, tag) in ZEROSHOT.items():
        register(name, "rib_openai_clip:load",
                 f"OpenAI CLIP zero-shot (class-name prompt head): open_clip {architecture} {tag}",
                 weights_status="rib_openai_clip:weights_status")


def load(name: str, *, weights: str | None = None, options: dict | None = None):
    """Load a fine-tuned (timm) or zero-shot (open_clip) OpenAI CLIP backbone by its friendly name."""
    from rib_clip import load_from_tables

    return load_from_tables(name, FINETUNED, ZEROSHOT, weights=weights, options=options)


def architecture(name: str, *, options: dict | None = None):
    """The untrained fine-tuned (timm) model and its input size, for `rib bench --dry-run` to time."""
    from rib_core.api import timm_architecture

    return timm_architecture(FINETUNED[name], options=options, label=name)


# What a suite entry may set (checked before any work); zero-shot models take templates, every model model_kwargs.
load.options = {"templates": Option(str, choices=("openai", "simple")), "model_kwargs": Option(dict)}


def weights_status(name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
    """None when the weights are available without a download, else what is missing (for --dry-run)."""
    from rib_clip import weights_status_from_tables

    return weights_status_from_tables(name, FINETUNED, ZEROSHOT, weights=weights)
