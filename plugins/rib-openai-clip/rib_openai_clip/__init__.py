"""rib backbones: OpenAI CLIP image towers, fine-tuned on ImageNet-1k (through timm) or zero-shot (through open_clip).

Fine-tuned names are aliases of timm models and load through rib's `timm:*` loader. Zero-shot names build CLIP's
image tower with a 1000-way head made from open_clip's ImageNet class names and prompt templates
(`rib_clip.zeroshot`, shared with rib-laion through the rib-clip library). Nothing here imports torch or open_clip: the loaders are
imported when a suite uses a name.
"""

from rib_clip import ClipFamily
from rib_core.api import hookimpl

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


FAMILY = ClipFamily("rib_openai_clip", "OpenAI CLIP", "OpenAI CLIP", FINETUNED, ZEROSHOT)
load, architecture, weights_status = FAMILY.load, FAMILY.architecture, FAMILY.weights_status


@hookimpl
def register_models(register):
    FAMILY.register(register)
