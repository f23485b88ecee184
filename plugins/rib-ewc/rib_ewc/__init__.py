"""rib-ewc: the "ewc" fine-tuning strategy. Importing this module is cheap: torch loads with the strategy."""

from rib_core.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_strategies(register):
    register("ewc", "rib_ewc.strategy:EWC", "Elastic Weight Consolidation with the pretrained diagonal Fisher")
