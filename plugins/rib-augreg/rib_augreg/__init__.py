"""rib backbones: the AugReg ViTs (Steiner et al., "How to train your ViT?") by friendly name.

Each name is an alias of one timm model and loads through rib's `timm:*` loader, so a model written as
`augreg/vit-b16-in1k` and as `timm:vit_base_patch16_224.augreg_in1k` is the same backbone with the same identity
(its cached results are shared). Nothing here imports torch: the loader is imported when a suite uses a name.
"""

from rib_core.api import Option, hookimpl

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


@hookimpl
def register_models(register):
    for name, timm_name in MODELS.items():
        tag = timm_name.partition(".")[2]
        register(name, "rib_augreg:load", f"{TRAINING[tag]}: timm {timm_name}",
                 weights_status="rib_augreg:weights_status", architecture="rib_augreg:architecture")


def load(name: str, *, weights: str | None = None, options: dict | None = None):
    """Load the timm model behind a friendly name; `weights` and `options` as for `timm:*`."""
    from rib_core.api import load_timm_model

    return load_timm_model(MODELS[name], weights=weights, options=options, label=name)


def architecture(name: str, *, options: dict | None = None):
    """The untrained model and its input size, for `rib bench --dry-run` to time (no download)."""
    from rib_core.api import timm_architecture

    return timm_architecture(MODELS[name], options=options, label=name)


load.options = {"model_kwargs": Option(dict, help="timm.create_model keyword arguments")}


def weights_status(name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
    """None when the weights are available without a download, else what is missing (for --dry-run)."""
    from rib_core.api import timm_weights_status

    return timm_weights_status(MODELS[name], weights=weights, label=name)
