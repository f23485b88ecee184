"""Digests of weights files, for the identities that enter cell keys, and whether an identity may fetch weights.

A model's identity names the digest of the file its weights are loaded from (rib's cached demo backbones, a
timm model's file in the Hugging Face cache, a local weights file), so changed weights give new keys and their
results are computed again, never mixed with the old ones in one report.

`digest_of(path)` is SHA-256's first 16 hex digits (models.base.file_digest's). A file under BIG_FILE bytes is
hashed each time (the demo's backbones: a fraction of a millisecond, and bit rot is seen); a bigger one once per
(path, size, modification time), the digest kept under <cache>/file-digests/, so a run does not hash 350 MB
each time. (A big file whose bytes change under the same size and modification time keeps its old digest.)

An identity of weights not on disk yet (a demo backbone never pretrained here, timm weights never downloaded)
is found by fetching them, as loading would a moment later, except while planning only (`fetching(False)`: a
dry run, which must neither pretrain nor download): then it names where they will come from.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
from pathlib import Path

from rib_core.hashing import sha256_file

BIG_FILE = 64 << 20
_may_fetch = contextvars.ContextVar("rib_may_fetch_weights", default=True)


def digest_of(path: str | os.PathLike) -> str:
    """SHA-256 of the file (first 16 hex digits); raises OSError when it cannot be read."""
    path = Path(path).expanduser()
    stat = path.stat()
    if stat.st_size < BIG_FILE:
        return sha256_file(path)[:16]
    from rib_core.paths import cache_dir

    resolved = str(path.resolve())
    name = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    memo = cache_dir() / "file-digests" / f"{name}.json"
    seen = {"path": resolved, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        kept = json.loads(memo.read_text())
        if {k: kept.get(k) for k in seen} == seen and isinstance(kept.get("sha256"), str):
            return kept["sha256"][:16]
    except (OSError, ValueError, AttributeError):
        pass
    digest = sha256_file(path)
    try:
        from rib_core.disk import atomic_write_json

        atomic_write_json(memo, dict(seen, sha256=digest))
    except OSError:
        pass  # no cache to keep it in: hashed again next time
    return digest[:16]


@contextlib.contextmanager
def fetching(allowed: bool):
    """While inside, identity hooks may (allowed) or may not pretrain or download missing weights."""
    token = _may_fetch.set(allowed)
    try:
        yield
    finally:
        _may_fetch.reset(token)


def may_fetch() -> bool:
    return _may_fetch.get()
