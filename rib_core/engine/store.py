"""The results directory. Every write is atomic; nothing half-written is ever read back as valid.

Layout (under --out, default ./rib-results):
    cells/<key>/record.json              written last: its presence means the cell is complete
    cells/<key>/predictions.safetensors  per-sample predictions of an evaluation (checksummed in the record)
    cells/<key>/weights[-<variant>].safetensors   fine-tuned weights (checksummed in the record)
    cells/<key>/work/                    a fine-tune in progress: epoch checkpoints
    cells/<key>/failed.json              the last failure of a cell (retried on the next run)
    runs/<suite>.json                    the plan of the latest run of a suite: which keys make up its report
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from rib_core import disk
from rib_core.errors import RibError, UsageError
from rib_core.hashing import sha256_file

RECORD = "record.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Every file of the store is written here (rib_core.disk: temporary file, fsync, rename; a full disk raises
    DiskFull naming the file)."""
    disk.atomic_write_bytes(path, data)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


def save_tensors(path: Path, tensors: dict, metadata: dict | None = None) -> str:
    """Save tensors as safetensors atomically; returns the file's SHA-256."""
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def record_checksum(record: dict) -> str:
    """SHA-256 of a record's content (every key but "checksum"), as its canonical JSON."""
    content = {k: v for k, v in record.items() if k != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)

    def check_writable(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--out '{self.root}' is a file, not a directory. Choose a directory with --out.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise RibError(f"results directory '{self.root}' is not writable ({exc.strerror}). "
                           "Choose another with --out, or fix its permissions.") from None

    def cell_dir(self, key: str) -> Path:
        return self.root / "cells" / key

    def record(self, key: str) -> dict | None:
        """The cell's record if it is complete and every file it names is intact, else None."""
        path = self.cell_dir(key) / RECORD
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("checksum") != record_checksum(record):
            return None  # edited by hand or damaged: its numbers cannot be trusted; the cell is run again
        for name, digest in record.get("files", {}).items():
            file = self.cell_dir(key) / name
            if not file.is_file() or sha256_file(file) != digest:
                return None
        return record

    def is_done(self, key: str) -> bool:
        return self.record(key) is not None

    def write_record(self, key: str, record: dict) -> None:
        record = dict(record, key=key, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        record["checksum"] = record_checksum(record)
        atomic_write_json(self.cell_dir(key) / RECORD, record)
        failed = self.cell_dir(key) / "failed.json"
        if failed.exists():
            failed.unlink()

    def write_failure(self, key: str, info: dict) -> None:
        atomic_write_json(self.cell_dir(key) / "failed.json", dict(info, at=time.strftime("%Y-%m-%dT%H:%M:%S%z")))

    def failure(self, key: str) -> dict | None:
        try:
            return json.loads((self.cell_dir(key) / "failed.json").read_text())
        except (OSError, ValueError):
            return None

    def write_run(self, suite_name: str, manifest: dict) -> None:
        atomic_write_json(self.root / "runs" / f"{suite_name}.json", manifest)

    def runs(self) -> list[dict]:
        out = []
        for path in sorted((self.root / "runs").glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return out
