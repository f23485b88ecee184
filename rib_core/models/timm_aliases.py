"""Friendly names for timm models, from a table: a plugin whose models are timm models needs nothing but the table.

    ALIASES = TimmAliases("rib_augreg", {"augreg/vit-b16-in1k": "vit_base_patch16_224.augreg_in1k", ...})
    load, architecture, weights_status = ALIASES.load, ALIASES.architecture, ALIASES.weights_status

    @hookimpl
    def register_models(register):
        ALIASES.register(register)

Each name loads exactly as `timm:<timm name>` does (same identity, so cached results are shared). The hook targets
are "<module>:load" etc., so the plugin module exposes the three functions under those names. Nothing here imports
timm until a model is loaded.
"""

from __future__ import annotations

from rib_core.options import Option


_REGISTERED: dict[str, str] = {}  # friendly name -> timm name, of every table registered


def identity(name: str, *, weights: str | None = None, options: dict | None = None) -> str:
    """The identity hook of every friendly name: that of `timm:<timm name>` (the same keys, the same results)."""
    from rib_core.models.timm_loader import timm_identity

    return timm_identity(_REGISTERED[name], weights=weights, options=options, label=name)


class TimmAliases:
    def __init__(self, module: str, table: dict[str, str], describe=None):
        """`table`: friendly name -> timm model name; `describe(name, timm_name)`: its line in `rib list models`."""
        self.module, self.table = module, table
        self.describe = describe or (lambda name, timm_name: f"timm {timm_name}")

    def register(self, register) -> None:
        for name, timm_name in self.table.items():
            _REGISTERED[name] = timm_name  # for `identity`, which the plugin module need not expose
            register(name, f"{self.module}:load", self.describe(name, timm_name),
                     weights_status=f"{self.module}:weights_status", architecture=f"{self.module}:architecture",
                     identity="rib_core.models.timm_aliases:identity")

    def load(self, name: str, *, weights: str | None = None, options: dict | None = None):
        """Load the timm model behind a friendly name; `weights` and `options` as for `timm:*`."""
        from rib_core.models.timm_loader import load_timm_model

        return load_timm_model(self.table[name], weights=weights, options=options, label=name)

    # What a suite entry may set (checked before any work). Read as `<module>.load.accepted_options`.
    load.accepted_options = {"model_kwargs": Option(dict, default={}, help="timm.create_model keyword arguments")}

    def architecture(self, name: str, *, options: dict | None = None):
        """The untrained model and its input size, for `rib bench --dry-run` to time (no download)."""
        from rib_core.models.timm_loader import timm_architecture

        return timm_architecture(self.table[name], options=options, label=name)

    def weights_status(self, name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
        """None when the weights are available without a download, else what is missing (for --dry-run)."""
        from rib_core.models.timm_loader import timm_weights_status

        return timm_weights_status(self.table[name], weights=weights, label=name)
