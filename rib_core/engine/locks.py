"""The two locks of a results directory, on one kind of lock file: a JSON record of its holder.

- RunLock (`<out>/rib.lock`): a normal `rib bench` holds the directory alone; `--shard I/N` runs share it with
  each other through their own `rib.lock.shard-<host>-<pid>` files, never with a normal run.
- CellLock (`<out>/cells/<key>/lock.json`): a shard run computing one cell.

A holder record is {"pid", "host", "since"}, created exclusively (O_EXCL); a lock whose process is gone on this
host is taken over (a cell lock also after RIB_LOCK_TTL seconds without a heartbeat, on any host).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from rib_core.disk import writing
from rib_core.env import env_number
from rib_core.errors import RibError

RUN_LOCK = "rib.lock"
CELL_LOCK = "lock.json"


def lock_ttl() -> float:
    """RIB_LOCK_TTL: seconds without a heartbeat after which a cell lock is taken over (default 120). Read when a
    lock is made, so a bad value is refused when the run takes its lock, before any work."""
    return env_number("RIB_LOCK_TTL", 120.0, minimum=1, what="seconds without a heartbeat after which a cell "
                      "lock is taken over")


class RunLock:
    """The lock of a results directory: a normal `rib bench` holds it alone; `--shard I/N` runs share it with
    each other (they coordinate per cell) but never with a normal run.

    A normal run holds rib.lock; each shard run holds its own rib.lock.shard-<host>-<pid>. Each side creates its
    file first and then looks for the other's, so two starting at once cannot both miss each other.
    """

    def __init__(self, root: Path, shard: bool = False):
        self.root = Path(root)
        self.path = self.root / RUN_LOCK
        self.shard = shard
        self.mine = self.root / f"{RUN_LOCK}.shard-{socket.gethostname()}-{os.getpid()}" if shard else self.path
        self.held = False
        lock_ttl()  # what the cell locks will use: a bad RIB_LOCK_TTL stops here, before any work

    def acquire(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.shard:
            write_holder(self.mine)
            self.held = True
            holder = live_holder(self.path)
            if holder is not None:
                self.release()
                raise RibError(f"a normal rib run (pid {holder.get('pid')} on {holder.get('host')}, since "
                               f"{holder.get('since')}) is using '{self.root}'; a --shard run cannot share it. "
                               f"Wait for it or use another --out. If that process is gone, delete {self.path}.")
            return
        for _ in range(2):
            try:
                write_holder(self.path, exclusive=True)
            except FileExistsError:
                holder = live_holder(self.path)
                if holder is not None:
                    raise RibError(
                        f"another rib run (pid {holder.get('pid')} on {holder.get('host')}, since "
                        f"{holder.get('since')}) is using '{self.root}'. Wait for it, use another --out, "
                        f"or run shards with --shard I/N. If that process is gone, delete {self.path}.") from None
                self.path.unlink(missing_ok=True)
                continue
            self.held = True
            for other in sorted(self.root.glob(f"{RUN_LOCK}.shard-*")):
                holder = live_holder(other)
                if holder is not None:
                    self.release()
                    raise RibError(f"shard runs (pid {holder.get('pid')} on {holder.get('host')}, since "
                                   f"{holder.get('since')}) are using '{self.root}'. Wait for them, join them with "
                                   f"--shard I/N, or use another --out. If they are gone, delete {other}.")
            return
        raise RibError(f"could not take the lock {self.path}; delete it if no rib run is using that directory.")

    def release(self) -> None:
        if self.held:
            self.mine.unlink(missing_ok=True)
            self.held = False


class CellLock:
    """The lock of one cell while a --shard run computes it (rib_core/engine/shard.py): refreshed by a heartbeat,
    taken over when its holder's process is gone (same host) or it has not been refreshed for RIB_LOCK_TTL
    seconds."""

    def __init__(self, cell_dir: Path):
        self.path = cell_dir / CELL_LOCK
        self.ttl = lock_ttl()
        self._stop = threading.Event()
        self._thread = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                write_holder(self.path, exclusive=True)
            except FileExistsError:
                if not self.stale():
                    return False
                self.path.unlink(missing_ok=True)
                continue
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
            return True
        return False

    def _beat(self):
        while not self._stop.wait(max(1.0, self.ttl / 4)):
            try:
                os.utime(self.path)
            except OSError:
                return

    def stale(self) -> bool:
        try:
            holder = json.loads(self.path.read_text())
            age = time.time() - self.path.stat().st_mtime
        except (OSError, ValueError):
            return True  # torn or vanished lock file: its writer died before finishing it
        return (isinstance(holder, dict) and process_gone(holder)) or age > self.ttl

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


def write_holder(path: Path, exclusive: bool = False) -> None:
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    flags = os.O_CREAT | os.O_WRONLY | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o644)
    with writing(path), os.fdopen(fd, "w") as f:
        json.dump(me, f)


def live_holder(path: Path) -> dict | None:
    """Who holds the lock file `path`, unless it is missing or its process is gone (then it is removed)."""
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing, or being written this instant: its writer will see our file
    if not isinstance(holder, dict) or process_gone(holder):
        path.unlink(missing_ok=True)
        return None
    if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
        return None
    return holder


def process_gone(holder: dict) -> bool:
    """Whether the process a holder record names has ended (only knowable on its own host)."""
    if holder.get("host") != socket.gethostname():
        return False  # cannot tell for another machine
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False
