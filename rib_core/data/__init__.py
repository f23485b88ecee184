"""Dataset adapters: the contract, and the adapters for the ImageNet-RIB datasets."""

from rib_core.data.base import CheckResult, ClassMap, DatasetAdapter, Sample

__all__ = ["CheckResult", "ClassMap", "DatasetAdapter", "Sample"]
