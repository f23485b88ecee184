"""The results directory. Every write is atomic; nothing half-written is ever read back as valid.

Layout (under --out, default ./rib-results):
    cells/<key>/record.json              written last: its presence means the cell is complete
    cells/<key>/predictions.safetensors  per-sample predictions of an evaluation (checksummed in the record)
    cells/<key>/weights[-<variant>].safetensors   fine-tuned weights (checksummed in the record)
    cells/<key>/work/                    a fine-tune in progress: epoch checkpoints
    cells/<key>/failed.json              the last failure of a cell (retried on the next run)
    runs/<suite>.json                    the plan of the latest run of a suite: which keys make up its report
    runs/superseded/<suite>-<time>.json  earlier plans of a suite whose cells changed (kept, reportable)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from rib_core.errors import RibError, UsageError
from rib_core.hashing import sha256_file
from rib_core.paths import umask_file_mode

RECORD = "record.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, umask_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write() names no file: name the target
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


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
        """Record the plan of the latest run of a suite. A previous plan with other cells (the suite was edited) is
        moved to runs/superseded/ first: its finished cells stay reportable (`rib report --plan FILE`)."""
        path = self.root / "runs" / f"{suite_name}.json"
        try:
            previous = self.read_manifest(path) if path.exists() else None
        except RibError:
            previous = None  # damaged: the new plan replaces it
        if previous is not None and {c["key"] for c in previous["cells"]} != {c["key"] for c in manifest["cells"]}:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(path.stat().st_mtime))
            archived = self.root / "runs" / "superseded" / f"{suite_name}-{stamp}.json"
            n = 1
            while archived.exists():
                n += 1
                archived = archived.with_name(f"{suite_name}-{stamp}-{n}.json")
            atomic_write_json(archived, previous)
        atomic_write_json(path, manifest)

    def read_manifest(self, path: Path) -> dict:
        """A run manifest, checked for the shape rib writes; a clear error naming the file otherwise."""
        try:
            manifest = json.loads(Path(path).read_text())
        except OSError as exc:
            raise RibError(f"cannot read the run manifest {path}: {exc.strerror or exc}.") from None
        except ValueError as exc:
            raise RibError(f"the run manifest {path} is not valid JSON ({exc}). {MANIFEST_FIX}") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise RibError(f"{path} is not a rib run manifest: {problem}. {MANIFEST_FIX}")
        return manifest

    def runs(self) -> list[dict]:
        runs = self.root / "runs"
        if runs.exists() and not runs.is_dir():
            raise RibError(f"'{runs}' is a file; rib keeps its run manifests in that folder. Move the file away and "
                           "run the same 'rib bench' command again (finished cells are reused).")
        return [self.read_manifest(path) for path in sorted(runs.glob("*.json"))]

    def superseded(self, suite_name: str, current: set[str]) -> list[dict]:
        """Earlier plans of a suite: {"file", "cells": finished cells that are not in the current plan}."""
        out = []
        for path in sorted((self.root / "runs" / "superseded").glob(f"{suite_name}-*.json")):
            try:
                manifest = self.read_manifest(path)
            except RibError:
                continue
            if manifest.get("suite") != suite_name:
                continue
            extra = [c["key"] for c in manifest["cells"] if c["key"] not in current]
            done = sum(1 for key in extra if (self.cell_dir(key) / RECORD).is_file())
            if done:
                out.append({"file": str(path), "cells": done})
        return out


MANIFEST_FIX = ("Run the same 'rib bench' command again to write it anew (finished cells are reused), or restore it "
                "from a backup.")


def _manifest_problem(manifest) -> str | None:
    if not isinstance(manifest, dict):
        return f"expected a JSON object, found {type(manifest).__name__}"
    for key, kind in (("suite", str), ("datasets", list), ("models", list), ("strategies", list), ("cells", list)):
        if not isinstance(manifest.get(key), kind):
            return f"'{key}' is missing or not a {kind.__name__}"
    for i, cell in enumerate(manifest["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("key"), str) or cell.get("kind") not in ("eval",
                                                                                                          "finetune"):
            return f"cells[{i}] is not a cell (needs 'key' and 'kind')"
    return None
