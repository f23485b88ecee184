"""Checksums of the decoded-image cache's shards, verified once per run when a cache is opened.

A shard whose bytes changed (a bad disk, a partial copy, an edit) would otherwise feed wrong pixels to every
evaluation with exit 0. Each shard's SHA-256 is stored in the cache's manifest when it is built; opening a
cache hashes each shard once per process (then remembers it by size and mtime) and deletes the ones that
differ, so that they are decoded again.
"""

from __future__ import annotations

from pathlib import Path

from rib_core.hashing import sha256_file

_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of shards already checked in this process


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def shard_checksums(folder: Path, names: list[str]) -> dict[str, str]:
    """SHA-256 of each shard just written, for the manifest (they count as verified for this run)."""
    out = {}
    for name in names:
        out[name] = sha256_file(folder / name)
        _verified.add(_stamp(folder / name))
    return out


def verify_shards(folder: Path, manifest: dict) -> bool:
    """True if every shard matches its checksum. A shard that does not is deleted (it will be decoded again);
    a manifest without checksums (an older cache) is refused so that the build adds them."""
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict):
        return False
    intact = True
    for name in manifest.get("shards", []):
        path = folder / name
        try:
            stamp = _stamp(path)
        except OSError:
            return False
        if stamp in _verified:
            continue
        if checksums.get(name) != sha256_file(path):
            path.unlink(missing_ok=True)
            intact = False
            continue
        _verified.add(stamp)
    return intact
