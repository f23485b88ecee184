"""The backbone contract: what a backbone loader returns."""

from rib_core.models.base import Backbone, file_digest, load_state_dict_file

__all__ = ["Backbone", "file_digest", "load_state_dict_file"]
