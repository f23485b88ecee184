"""What the CLIP backbone plugins share: a family of friendly names, each a fine-tuned (timm) or zero-shot
(open_clip) model, registered, loaded, sized and checked from two tables. A library, not a plugin: it registers
nothing itself; rib-openai-clip and rib-laion each declare their tables and hand them to a `ClipFamily`.
Importing it is cheap; timm and open_clip are imported when a model loads.
"""

from __future__ import annotations

from rib_core.api import Option


class ClipFamily:
    """The models of one plugin. `finetuned`: friendly name -> timm name; `zeroshot`: friendly name ->
    (open_clip architecture, pretrained tag); `module`: the plugin's module, which exposes this family's
    `load`, `architecture` and `weights_status` as module attributes (hook targets are "module:function")."""

    def __init__(self, module: str, finetuned_title: str, zeroshot_title: str, finetuned: dict, zeroshot: dict):
        self.module, self.finetuned, self.zeroshot = module, finetuned, zeroshot
        self.finetuned_title, self.zeroshot_title = finetuned_title, zeroshot_title

    def register(self, register) -> None:
        for name, timm_name in self.finetuned.items():
            register(name, f"{self.module}:load", f"{self.finetuned_title} fine-tuned on IN-1k: timm {timm_name}",
                     weights_status=f"{self.module}:weights_status", architecture=f"{self.module}:architecture")
        for name, (architecture, tag) in self.zeroshot.items():
            register(name, f"{self.module}:load",
                     f"{self.zeroshot_title} zero-shot (class-name prompt head): open_clip {architecture} {tag}",
                     weights_status=f"{self.module}:weights_status")

    def load(self, name: str, *, weights: str | None = None, options: dict | None = None):
        """Load a fine-tuned (timm) or zero-shot (open_clip) backbone by its friendly name."""
        return load_from_tables(name, self.finetuned, self.zeroshot, weights=weights, options=options)

    # What a suite entry may set (checked before any work); zero-shot models take templates, every model
    # model_kwargs. Read as `<module>.load.options`.
    load.options = {"templates": Option(str, choices=("openai", "simple")), "model_kwargs": Option(dict)}

    def architecture(self, name: str, *, options: dict | None = None):
        """The untrained fine-tuned (timm) model and its input size, for `rib bench --dry-run` to time."""
        from rib_core.api import timm_architecture

        return timm_architecture(self.finetuned[name], options=options, label=name)

    def weights_status(self, name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
        """None when the weights are available without a download, else what is missing (for --dry-run)."""
        return weights_status_from_tables(name, self.finetuned, self.zeroshot, weights=weights)


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
