"""Fine-tuning strategies: the contract and the built-ins."""

from rib_core.strategies.base import Strategy, TrainContext
from rib_core.training import TrainSettings

__all__ = ["Strategy", "TrainContext", "TrainSettings"]
