"""Where things are: the data root (the datasets, the user's) and the cache (what rib can rebuild: decoded images,
demo data and models, zero-shot heads, Fisher matrices). Each is decided here and nowhere else."""

from __future__ import annotations

import os
import re
from pathlib import Path

CACHE_DIR_ENV = "RIB_CACHE_DIR"
DATA_ROOT_ENV = "RIB_DATA_ROOT"


def default_data_root(*given: str | None) -> str | None:
    """The data root: the first of `given` that is set (in the order the caller passes them: `--data-root`, then
    the suite's `data_root`), else $RIB_DATA_ROOT, else None. The one place that decides it."""
    return next((g for g in given if g), None) or os.environ.get(DATA_ROOT_ENV) or None


def cache_dir() -> Path:
    """$RIB_CACHE_DIR, else $XDG_CACHE_HOME/rib, else ~/.cache/rib. Safe to delete: everything is rebuilt."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "rib"


# Names that become file names (suite names -> runs/<suite>.json, dataset labels -> <label>.json manifests):
# one path component of plain characters, so that no name can reach outside its folder ("../x", "/etc/x").
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=@-]*")


def check_file_name(what: str, name: str) -> str:
    from rib_core.errors import ConfigError

    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or len(name) > 120:
        raise ConfigError(f"{what} {name!r} cannot be used as a file name: use letters, digits and . _ - + = @ "
                          "(starting with a letter or digit, no '/' or '..' path parts), at most 120 characters.")
    return name


def umask_file_mode() -> int:
    """0666 less the umask: what open() would give a new file. mkstemp's 0600 would hide shared results (and
    shared caches) from colleagues under umask 022."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
