"""What the CLIP backbone plugins share: a family of friendly names, each a fine-tuned (timm) or zero-shot
(open_clip) model, registered, loaded, sized and checked from two tables. A library, not a plugin: it registers
nothing itself; rib-openai-clip and rib-laion each declare their tables and hand them to a `ClipFamily`.
Importing it is cheap; timm and open_clip are imported when a model loads.
"""

from __future__ import annotations

from rib_core.api import Option, TimmAliases


class ClipFamily(TimmAliases):
    """The models of one plugin. `finetuned`: friendly name -> timm name (rib's timm aliases); `zeroshot`:
    friendly name -> (open_clip architecture, pretrained tag); `module`: the plugin's module, which exposes this
    family's `load`, `architecture` and `weights_status` as module attributes (hook targets are "module:function")."""

    def __init__(self, module: str, finetuned_title: str, zeroshot_title: str, finetuned: dict, zeroshot: dict):
        super().__init__(module, finetuned,
                         lambda name, timm_name: f"{finetuned_title} fine-tuned on IN-1k: timm {timm_name}")
        self.zeroshot, self.zeroshot_title = zeroshot, zeroshot_title

    def register(self, register) -> None:
        super().register(register)
        for name, (architecture, tag) in self.zeroshot.items():
            register(name, f"{self.module}:load",
                     f"{self.zeroshot_title} zero-shot (class-name prompt head): open_clip {architecture} {tag}",
                     weights_status=f"{self.module}:weights_status")

    def load(self, name: str, *, weights: str | None = None, options: dict | None = None):
        """Load a fine-tuned (timm) or zero-shot (open_clip) backbone by its friendly name."""
        if name in self.table:
            return super().load(name, weights=weights, options=options)
        from rib_clip.zeroshot import load_zeroshot

        architecture, tag = self.zeroshot[name]
        return load_zeroshot(name, architecture, tag, weights=weights, options=options)

    # What a suite entry may set (checked before any work); zero-shot models take templates, every model
    # model_kwargs. Read as `<module>.load.accepted_options`.
    load.accepted_options = {
        "templates": Option(str, default="openai", choices=("openai", "simple"),
                            help="zero-shot models: the prompt templates of the class-name head"),
        "model_kwargs": Option(dict, default={}, help="timm / open_clip model keyword arguments"),
    }

    def weights_status(self, name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
        """None when the weights load without a download, else what is missing and how to get it."""
        if name in self.table:
            return super().weights_status(name, weights=weights, options=options)
        from rib_clip.zeroshot import open_clip_weights_status

        architecture, tag = self.zeroshot[name]
        return open_clip_weights_status(name, architecture, tag, weights=weights)
