"""rib backbones: LAION CLIP image towers, fine-tuned on ImageNet-1k (through timm) or zero-shot (through open_clip).

The zero-shot classifier code is shared with rib-openai-clip through the rib-clip library (`rib_clip.zeroshot`). Nothing here imports torch or open_clip: the loaders are imported when a suite uses a name.
"""

from rib_core.api import Option, hookimpl

# Friendly name -> timm model name: CLIP image towers trained on LAION-2B, fine-tuned on ImageNet-1k
# (the paper's "LAION-2B CLIP").
FINETUNED = {
    "laion/vit-b16-laion2b-ft-in1k": "vit_base_patch16_clip_224.laion2b_ft_in1k",
    "laion/vit-b16-384-laion2b-ft-in1k": "vit_base_patch16_clip_384.laion2b_ft_in1k",
    "laion/vit-b32-laion2b-ft-in1k": "vit_base_patch32_clip_224.laion2b_ft_in1k",
    "laion/vit-l14-laion2b-ft-in1k": "vit_large_patch14_clip_224.laion2b_ft_in1k",
    "laion/vit-l14-336-laion2b-ft-in1k": "vit_large_patch14_clip_336.laion2b_ft_in1k",
    "laion/vit-h14-laion2b-ft-in1k": "vit_huge_patch14_clip_224.laion2b_ft_in1k",
}

# Friendly name -> (open_clip architecture, open_clip pretrained tag): zero-shot classifiers.
ZEROSHOT = {
    "laion/vit-b32-laion2b-zeroshot": ("ViT-B-32", "laion2b_s34b_b79k"),
    "laion/vit-b16-laion2b-zeroshot": ("ViT-B-16", "laion2b_s34b_b88k"),
    "laion/vit-l14-laion2b-zeroshot": ("ViT-L-14", "laion2b_s32b_b82k"),
    "laion/vit-h14-laion2b-zeroshot": ("ViT-H-14", "laion2b_s32b_b79k"),
    "laion/vit-g14-laion2b-zeroshot": ("ViT-g-14", "laion2b_s34b_b88k"),
    "laion/vit-bigg14-laion2b-zeroshot": ("ViT-bigG-14", "laion2b_s39b_b160k"),
    "laion/vit-b32-laion400m-zeroshot": ("ViT-B-32", "laion400m_e32"),
    "laion/vit-b16-laion400m-zeroshot": ("ViT-B-16", "laion400m_e32"),
    "laion/vit-l14-laion400m-zeroshot": ("ViT-L-14", "laion400m_e32"),
}


@hookimpl
def register_models(register):
    for name, timm_name in FINETUNED.items():
        register(name, "rib_laion:load", f"LAION-2B CLIP fine-tuned on IN-1k: timm {timm_name}",
                 weights_status="rib_laion:weights_status",
                 architecture="rib_laion:architecture")
    for name, (architecture, tag) in ZEROSHOT.items():
        register(name, "rib_laion:load",
                 f"LAION CLIP zero-shot (class-name prompt head): open_clip {architecture} {tag}",
                 weights_status="rib_laion:weights_status")


def load(name: str, *, weights: str | None = None, options: dict | None = None):
    """Load a fine-tuned (timm) or zero-shot (open_clip) LAION CLIP backbone by its friendly name."""
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
