"""Where rib keeps what it can rebuild: decoded images, demo data and models, zero-shot heads, Fisher matrices."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "RIB_CACHE_DIR"


def cache_dir() -> Path:
    """$RIB_CACHE_DIR, else $XDG_CACHE_HOME/rib, else ~/.cache/rib. Safe to delete: everything is rebuilt."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "rib"
