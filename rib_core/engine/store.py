"""The results directory. Every write is atomic; nothing half-written is ever read back as valid.

Layout (under --out, default ./rib-results):
    cells/<key>/record.json              written last: its presence means the cell is complete
    cells/<key>/predictions.safetensors  per-sample predictions of an evaluation (checksummed in the record)
    cells/<key>/weights[-<variant>].safetensors   fine-tuned weights (checksummed in the record)
    cells/<key>/work/                    a fine-tune in progress: epoch checkpoints
    cells/<key>/failed.json              the last failure of a cell (retried on the next run)
    runs/<suite>.json                    the plan of the latest run of a suite: which keys make up its report
    runs/superseded/<suite>-<time>.json  earlier plans of a suite whose cells changed (kept, reportable)
                                         (both checksummed like a record: an edited or damaged one is refused)
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


def _check_name_lengths(path: Path) -> None:
    """A name longer than the file system allows (255 bytes on most) fails every write below it: say so."""
    existing = next((p for p in (path.absolute(), *path.absolute().parents) if _exists(p)), Path("/"))
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise UsageError(f"--out '{path}' holds a name of {size} bytes ('{part[:40]}...'); the file system "
                             f"allows at most {limit}. Choose a shorter --out.")


def _exists(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long to even look up
        return False


class DamagedRun(RibError):
    """A run manifest (runs/<suite>.json) that is not what rib wrote."""

    exit_code = 2


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)

    def check_writable(self) -> None:
        """Refuse, before any work, a results directory rib could not write into: a file, a name the file system
        cannot hold, no permission, or a `runs` / `cells/<key>` entry that is a file where rib needs a folder."""
        _check_name_lengths(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--out '{self.root}' is a file, not a directory. Choose a directory with --out.")
        for entry, holds in ((self.root / "runs", "the plan of each run"), (self.root / "cells", "every result")):
            if entry.exists() and not entry.is_dir():
                raise UsageError(f"'{entry}' is a file, not a folder: rib keeps {holds} there. Move that file away "
                                 "(it is not rib's), or choose another --out.")
        cells = self.root / "cells"
        strays = sorted(e.name for e in os.scandir(cells) if not e.is_dir()) if cells.is_dir() else []
        if strays:
            raise UsageError(f"'{cells / strays[0]}' is a file, not a folder: rib keeps each cell's results in a "
                             f"folder named by its key{f' ({len(strays)} such files)' if len(strays) > 1 else ''}. "
                             f"Move {'them' if len(strays) > 1 else 'it'} away (not rib's), or choose another --out.")
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

    def record(self, key: str, verify_files: bool = True) -> dict | None:
        """The cell's record if it is complete and every file it names is intact, else None. `verify_files=False`
        only checks that those files exist (a report's view of fine-tunes: hashing every weights file, hundreds of
        MB each, on every `rib report` would cost minutes, and the report reads none of them)."""
        path = self.cell_dir(key) / RECORD
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("checksum") != record_checksum(record):
            return None  # edited by hand or damaged: its numbers cannot be trusted; the cell is run again
        for name, digest in record.get("files", {}).items():
            file = self.cell_dir(key) / name
            if not file.is_file() or (verify_files and sha256_file(file) != digest):
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
        """Record the plan of the latest run of a suite, checksummed like a record. A previous plan with other cells
        (the suite was edited) is moved to runs/superseded/ first: its finished cells stay reportable
        (`rib report --plan FILE`)."""
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
        manifest = dict(manifest)
        manifest.pop("checksum", None)
        manifest["checksum"] = record_checksum(manifest)
        atomic_write_json(path, manifest)

    def read_manifest(self, path: Path) -> dict:
        """A run manifest, checked for the shape rib writes and against its checksum: it says which cells make up a
        report and how they pair, so an edit (two labels swapped) would change the numbers shown without any cell
        changing. One that fails either is refused with a message naming the file (manifests rib wrote before they
        carried a checksum are read as they are)."""
        try:
            manifest = json.loads(Path(path).read_text())
        except OSError as exc:
            raise RibError(f"cannot read the run manifest {path}: {exc.strerror or exc}.") from None
        except ValueError as exc:
            raise DamagedRun(f"the run manifest {path} is not valid JSON ({exc}). {MANIFEST_FIX}") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise DamagedRun(f"{path} is not a rib run manifest: {problem}. {MANIFEST_FIX}")
        if "checksum" in manifest and manifest["checksum"] != record_checksum(manifest):
            raise DamagedRun(f"{path} does not match its checksum: it was edited or damaged, so it cannot be trusted "
                             f"to say which results make up the report of suite '{manifest.get('suite')}'. "
                             f"{MANIFEST_FIX}")
        return manifest

    def runs(self) -> list[dict]:
        """Every suite's latest run manifest (read_manifest: checked, or refused naming the file)."""
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
