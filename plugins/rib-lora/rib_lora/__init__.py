"""rib-lora: the "lora" fine-tuning strategy. Importing this module is cheap: torch loads with the strategy."""

from rib_core.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_strategies(register):
    register("lora", "rib_lora.strategy:LoRA", "LoRA adapters on attention q and v, merged after training")
