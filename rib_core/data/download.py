"""Download one published file: resumable (HTTP range requests), verified, never half-taken.

Bytes go to `<name>.part` next to the final file; a killed download continues from the bytes already there.
The final name appears only after the size and checksum (where recorded) match, so an existing final file is
a verified one. A mismatch deletes the partial file and says so.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from rib_core.data.sources import Archive
from rib_core.errors import DataError

MIRROR_ENV = "RIB_DATA_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 60


def mirrored(url: str, mirror: str | None) -> str:
    """Replace the scheme and host of `url` by `mirror` (which may carry a path prefix); keep the path."""
    if not mirror:
        return url
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return mirror.rstrip("/") + rest


def new_hasher(archive: Archive):
    if not archive.checksum:
        return None
    return hashlib.new(archive.checksum.split(":", 1)[0])


def _hash_existing(path: Path, hasher) -> None:
    if hasher is None:
        return
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            hasher.update(block)


def mismatch(archive: Archive, size: int, hasher) -> str | None:
    """Why the bytes are not the published file (size or checksum), or None when they match what is recorded."""
    if archive.size is not None and size != archive.size:
        return f"it has {size} bytes, {archive.size} are published"
    if hasher is not None:
        expected = archive.checksum.split(":", 1)[1].lower()
        if hasher.hexdigest() != expected:
            return f"its {hasher.name} is {hasher.hexdigest()}, {expected} is published ({archive.checksum_from})"
    return None


def verify(archive: Archive, path: Path, size: int, hasher) -> None:
    """Raise DataError (after deleting the partial file `path`) if the size or checksum differs."""
    problem = mismatch(archive, size, hasher)
    if problem:
        path.unlink(missing_ok=True)
        raise DataError(f"{archive.name}: checksum mismatch: {problem}. The partial file {path} was deleted; run "
                        "the same command again to download it afresh (a mirror or proxy may serve a different "
                        "file).")


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"User-Agent": "rib-datasets-get"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # nothing after `offset`: the partial file is already complete
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}. Check the URL (or --mirror) and run again.") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"{url}: cannot connect ({reason}). Check the network (or --mirror) and run again: "
                        "the bytes already downloaded are kept.") from exc


def download(archive: Archive, folder: Path, progress, mirror: str | None = None) -> Path:
    """Fetch `archive` into `folder` (resuming a `.part` file), verify it, return the final path."""
    final = folder / archive.name
    if final.is_file():
        return final  # renamed only after verification
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{archive.name}.part"
    errors = []
    for url in archive.urls:
        url = mirrored(url, mirror)
        try:
            return _fetch(archive, url, part, final, progress)
        except DataError as exc:
            if "checksum mismatch" in str(exc):
                raise
            errors.append(str(exc))
    raise DataError(" / ".join(errors))


def _fetch(archive: Archive, url: str, part: Path, final: Path, progress) -> Path:
    offset = part.stat().st_size if part.is_file() else 0
    hasher = new_hasher(archive)
    response = _open(url, offset)
    total = archive.size
    if response is not None and response.status != 206 and offset:
        offset = 0  # the server ignored the range: start again
    announced = None  # the last byte the server promised to send
    if response is not None:
        length = response.headers.get("Content-Length")
        announced = offset + int(length) if length is not None else None
        total = total if total is not None else announced
    if offset:
        _hash_existing(part, hasher)
    task = progress.start(archive.name, total, offset)
    size = offset
    try:
        if response is not None:
            with response, open(part, "ab" if offset else "wb") as out:
                try:
                    while block := response.read(CHUNK):
                        out.write(block)
                        if hasher is not None:
                            hasher.update(block)
                        size += len(block)
                        progress.advance(task, len(block))
                except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                    raise DataError(f"the download of {archive.name} from {url} broke off after {size} bytes "
                                    f"({type(exc).__name__}). Run the same command again: it continues from "
                                    f"there.") from exc
                finally:
                    out.flush()
                    os.fsync(out.fileno())
                if announced is not None and size < announced:
                    raise DataError(f"the download of {archive.name} from {url} broke off after {size} bytes "
                                    f"of {announced}. Run the same command again: it continues from there.")
    finally:
        progress.stop(task)
    verify(archive, part, size, hasher)
    os.replace(part, final)
    return final
