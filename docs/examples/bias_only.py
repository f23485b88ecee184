"""A strategy plugin: BitFit (Ben Zaken et al., 2022), fine-tuning only the bias terms (and, by default, the head)."""
from rib_core.api import Option, Strategy, hookimpl


@hookimpl
def register_strategies(register):
    register("mylab-bitfit", "bias_only:BiasOnly", "BitFit: train only bias terms (and the classifier head)")


class BiasOnly(Strategy):
    accepted_options = {"train_head": Option(bool, default=True, help="train the whole classifier head too")}
    version = 1  # raise it when a change to this code changes results: it enters the cells' keys

    def setup(self, ctx):
        # The loop put the model in train mode before calling this; pin modules to eval() here if needed.
        for name, parameter in ctx.model.named_parameters():
            head = ctx.backbone.is_head(name)
            parameter.requires_grad_(name.endswith("bias") or (head and self.params["train_head"]))
