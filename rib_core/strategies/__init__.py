"""Fine-tuning strategies: the contract and the built-ins."""

from rib_core.strategies.base import Strategy, TrainContext, TrainSettings

__all__ = ["Strategy", "TrainContext", "TrainSettings"]
