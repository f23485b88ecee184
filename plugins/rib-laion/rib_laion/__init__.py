"""rib backbones: LAION CLIP image towers, fine-tuned on ImageNet-1k (through timm) or zero-shot (through open_clip).

The zero-shot classifier code is shared with rib-openai-clip through the rib-clip library (`rib_clip.zeroshot`). Nothing here imports torch or open_clip: the loaders are imported when a suite uses a name.
"""

from rib_clip import ClipFamily
from rib_core.api import hookimpl

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


FAMILY = ClipFamily("rib_laion", "LAION-2B CLIP", "LAION CLIP", FINETUNED, ZEROSHOT)
load, architecture, weights_status = FAMILY.load, FAMILY.architecture, FAMILY.weights_status


@hookimpl
def register_models(register):
    FAMILY.register(register)
