"""What the CLIP backbone plugins share: loading a friendly name from a table of fine-tuned (timm) or zero-shot
(open_clip) models. A library, not a plugin: it registers nothing; rib-openai-clip and rib-laion depend on it.
Importing it is cheap; timm and open_clip are imported when a model loads.
"""

from __future__ import annotations


def load_from_tables(name: str, finetuned: dict, zeroshot: dict, *, weights: str | None, options: dict | None):
    """`finetuned`: friendly name -> timm name; `zeroshot`: friendly name -> (open_clip architecture, tag)."""
    if name in finetuned:
        from rib_core.api import load_timm_model

        return load_timm_model(finetuned[name], weights=weights, options=options, label=name)
    from rib_clip.zeroshot import load_zeroshot

    architecture, tag = zeroshot[name]
    return load_zeroshot(name, architecture, tag, weights=weights, options=options)


def weights_status_from_tables(name: str, finetuned: dict, zeroshot: dict, *, weights: str | None) -> str | None:
    """None when the weights load without a download, else what is missing and how to get it."""
    if name in finetuned:
        from rib_core.api import timm_weights_status

        return timm_weights_status(finetuned[name], weights=weights, label=name)
    from rib_clip.zeroshot import open_clip_weights_status

    architecture, tag = zeroshot[name]
    return open_clip_weights_status(name, architecture, tag, weights=weights)
