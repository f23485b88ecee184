"""Metrics computed from stored results (never by running a model)."""

from rib_core.metrics.base import Metric

__all__ = ["Metric"]
