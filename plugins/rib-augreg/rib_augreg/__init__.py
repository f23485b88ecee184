"""rib backbones: the AugReg ViTs (Steiner et al., "How to train your ViT?") by friendly name.

Each name is an alias of one timm model and loads through rib's `timm:*` loader, so a model written as
`augreg/vit-b16-in1k` and as `timm:vit_base_patch16_224.augreg_in1k` is the same backbone with the same identity
(its cached results are shared). Nothing here imports torch: the loader is imported when a suite uses a name.
"""

from rib_core.api import TimmAliases, hookimpl

# Friendly name -> timm model name. Names read "vit-<size><patch>-<pretraining>"; every entry has a 1000-way
# ImageNet-1k head (tests check each against timm's registry).
MODELS = {
    "augreg/vit-ti16-in21k-ft-in1k": "vit_tiny_patch16_224.augreg_in21k_ft_in1k",
    "augreg/vit-s16-in1k": "vit_small_patch16_224.augreg_in1k",
    "augreg/vit-s16-in21k-ft-in1k": "vit_small_patch16_224.augreg_in21k_ft_in1k",
    "augreg/vit-s32-in21k-ft-in1k": "vit_small_patch32_224.augreg_in21k_ft_in1k",
    "augreg/vit-b16-in1k": "vit_base_patch16_224.augreg_in1k",
    "augreg/vit-b16-in21k-ft-in1k": "vit_base_patch16_224.augreg_in21k_ft_in1k",
    "augreg/vit-b16-augreg2-in21k-ft-in1k": "vit_base_patch16_224.augreg2_in21k_ft_in1k",
    "augreg/vit-b16-orig-in21k-ft-in1k": "vit_base_patch16_224.orig_in21k_ft_in1k",
    "augreg/vit-b32-in1k": "vit_base_patch32_224.augreg_in1k",
    "augreg/vit-b32-in21k-ft-in1k": "vit_base_patch32_224.augreg_in21k_ft_in1k",
    "augreg/vit-b8-in21k-ft-in1k": "vit_base_patch8_224.augreg_in21k_ft_in1k",
    "augreg/vit-b8-augreg2-in21k-ft-in1k": "vit_base_patch8_224.augreg2_in21k_ft_in1k",
    "augreg/vit-l16-in21k-ft-in1k": "vit_large_patch16_224.augreg_in21k_ft_in1k",
}

# timm weights tag -> how those weights were trained, for `rib list`.
TRAINING = {
    "augreg_in1k": "AugReg on IN-1k",
    "augreg_in21k_ft_in1k": "AugReg on IN-21k -> IN-1k",
    "augreg2_in21k_ft_in1k": "AugReg on IN-21k -> IN-1k, re-fine-tuned (augreg2)",
    "orig_in21k_ft_in1k": "original ViT (no AugReg) on IN-21k -> IN-1k",
}


ALIASES = TimmAliases("rib_augreg", MODELS,
                      lambda name, timm_name: f"{TRAINING[timm_name.partition('.')[2]]}: timm {timm_name}")
load, architecture, weights_status = ALIASES.load, ALIASES.architecture, ALIASES.weights_status


@hookimpl
def register_models(register):
    ALIASES.register(register)
