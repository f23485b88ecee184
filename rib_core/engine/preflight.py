"""What a run needs from this machine and its files, checked before any work, so that a run is not accepted only
for every one of its cells to fail: rib's cache folder must be a folder it can write, and a local weights file must
be weights. (The device is checked by rib_core.engine.device.select_device, the results folder by
Store.check_writable.)"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from rib_core.disk import disk_full
from rib_core.errors import UsageError
from rib_core.paths import CACHE_DIR_ENV, cache_dir

PICKLE_OR_ZIP = (b"\x80", b"PK\x03\x04")  # a torch file: a zip archive (torch >= 1.6) or a legacy pickle


def check_cache_dir() -> Path:
    """rib's cache folder (decoded images, demo data and models, strategy caches); UsageError when it is a file,
    lies under a file, or cannot be written (DiskFull when its disk is full). A missing folder is not made here,
    only its nearest existing parent checked."""
    folder = cache_dir()
    where = f"{CACHE_DIR_ENV} '{folder}'" if os.environ.get(CACHE_DIR_ENV) else f"rib's cache folder '{folder}'"
    fix = (f"Point {CACHE_DIR_ENV} at a folder rib may write (or unset it for ~/.cache/rib)."
           if os.environ.get(CACHE_DIR_ENV) else f"Set {CACHE_DIR_ENV} to a folder rib may write.")
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        what = "is a file" if blocking == folder else f"lies under the file '{blocking}'"
        raise UsageError(f"{where} {what}, not a folder: rib keeps decoded images, demo data and models there. {fix}")
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    probe = existing / f".rib-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        full = disk_full(exc, probe)
        if full is not None and full.errno != errno.EROFS:
            raise full from None  # "Free some space ...": the folder is right, the disk is full
        raise UsageError(f"{where} cannot be written ({exc.strerror}). {fix}") from None
    return folder


def weights_file_problem(label: str, path: str | os.PathLike) -> str | None:
    """Why the local weights file `path` of model `label` cannot be weights, or None. Reads only its header:
    a safetensors file must have a valid one; any other file must be a torch file (a zip archive or a pickle)."""
    path = Path(path)
    fix = "Give a .safetensors file (or a torch state dict file) saved from this model."
    try:
        with open(path, "rb") as f:
            start = f.read(8)
    except OSError as exc:
        return f"model '{label}': weights file '{path}' cannot be read ({exc.strerror})."
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        except Exception as exc:  # SafetensorError: header too small, invalid JSON, ...
            return f"model '{label}': weights file '{path}' is not a safetensors file ({exc}). {fix}"
        return None
    if not start.startswith(PICKLE_OR_ZIP):
        return (f"model '{label}': weights file '{path}' is neither a safetensors file nor a torch file (it "
                f"starts with {start!r}). {fix}")
    return None
