"""Writing files: atomically, and a full disk reported as one, whichever library hit it.

Every file rib writes goes through here: `atomic_write` (a temporary file beside the target, filled by a callable,
fsynced, renamed over the target) with `atomic_write_bytes` / `atomic_write_json` on top of it, and `writing(path)`
for writers that stream into a file of their own (downloads, unpacking, rendered demo images). A file is
therefore either complete or absent, never half-written under its final name.

A full disk, a quota, a file-size limit (EFBIG under `ulimit -f`) or a read-only file system raises `DiskFull`,
naming the file: as an OSError from Python or PIL, or as safetensors' SafetensorError, which carries only the
text "No space left on device (os error 28)". The run then stops at once (rib_core/engine/runner.py) instead of
failing every following cell at its first write. `disk_full(exc)` recognises such an error from any code (a
plugin's own writes too).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path

from rib_core.errors import RibError
from rib_core.paths import umask_file_mode

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
_OS_ERROR_CODE = re.compile(r"\(os error (\d+)\)|\[Errno (\d+)\]")  # Rust's io::Error text; Python's OSError text


class DiskFull(RibError, OSError):
    """No room (or no permission of the file system) to write a file: nothing more can be stored this run.

    An OSError too (errno, strerror, filename), so code that handles a disk error as an OSError still does."""

    exit_code = 1

    def __init__(self, code: int, path: str | os.PathLike | None = None):
        super().__init__(code, os.strerror(code), *([str(path)] if path is not None else []))

    def __reduce__(self):  # OSError's would pass (errno, strerror, filename) back to __init__
        return type(self), (self.errno, self.filename)

    def __str__(self) -> str:
        where = f": {self.filename}" if self.filename else ""
        return (f"{self.strerror}{where}\nFree some space (or use another --out / RIB_CACHE_DIR) and run the same "
                "command again: finished cells are kept and every stored file is complete.")


def disk_full(exc: BaseException, path: str | os.PathLike | None = None) -> DiskFull | None:
    """`exc` as a DiskFull (naming `path` when the error names no file), or None if it is not about disk space.
    Looks through the causes too: a library may wrap the OSError in an error of its own."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return exc
        code = exc.errno if isinstance(exc, OSError) else None
        if code is None:
            found = _OS_ERROR_CODE.search(str(exc))
            code = int(found.group(1) or found.group(2)) if found else None
        if code in DISK_FULL_ERRNOS:
            filename = exc.filename if isinstance(exc, OSError) and exc.filename else path
            return DiskFull(code, filename)
        exc = exc.__cause__ or exc.__context__
    return None


@contextlib.contextmanager
def writing(path: str | os.PathLike):
    """Around code that writes `path` itself: a full disk becomes DiskFull naming `path`."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        full = disk_full(exc, path)
        if full is not None:
            raise full from exc
        if isinstance(exc, OSError) and exc.errno is not None and not exc.filename:  # a failed write() names none
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def atomic_write(path: str | os.PathLike, write) -> None:
    """Create or replace `path` atomically: `write(tmp)` writes a temporary file (a path string) in the same
    folder, which is then fsynced and renamed to `path`. On any failure the temporary file is removed and the old
    `path`, if any, is left as it was. Files get the mode the umask gives (not mkstemp's 0600)."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, umask_file_mode())
            os.close(fd)
            write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())  # the rename must never publish a file whose bytes are not on disk
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_json(path: str | os.PathLike, obj, **dump_options) -> None:
    options = {"indent": 1, "sort_keys": True, "default": str} | dump_options
    atomic_write_bytes(path, (json.dumps(obj, **options) + "\n").encode())
