"""Download one published file: resumable (HTTP range requests), bounded, stall-aware, verified, never half-taken.

Bytes go to `<name>.part` next to the final file; a killed download continues from the bytes already there.
Nothing is written past the published size, whatever a mirror sends (a stream that never ends cannot fill the
disk; a longer `.part` is cut back to the published size, not thrown away). A mirror that sends less than
STALL_BYTES in STALL_S seconds (a trickle, or silence) is given up with a message; the bytes so far are kept.
The final name appears only after the size and checksum (where recorded) match, so an existing final file is a
verified one. A mismatch deletes the partial file and says so.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from rib_core.data.progress import human
from rib_core.data.sources import Archive
from rib_core.disk import writing
from rib_core.errors import DataError

MIRROR_ENV = "RIB_DATA_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 60  # connecting, and waiting for any byte at all
STALL_S = 60.0  # a download that receives less than STALL_BYTES in this many seconds has stalled
STALL_BYTES = 64 << 10  # ~1 KB/s: far below any usable link, far above a mirror that trickles


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


def verify(archive: Archive, path: Path, size: int, hasher, announced: int | None = None) -> None:
    """Raise DataError (after deleting the partial file `path`) if the size or checksum differs. `announced`: the
    size the server said the file has, named in the message when it is not the published one."""
    problem = mismatch(archive, size, hasher)
    if problem:
        path.unlink(missing_ok=True)
        other = (f"; this mirror announced {announced} bytes, {archive.size} are published" if announced is not None
                 and archive.size is not None and announced != archive.size else "")
        raise DataError(f"{archive.name}: checksum mismatch: {problem}{other}. The partial file {path} was deleted; "
                        "run the same command again to download it afresh (a mirror or proxy may serve a different "
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
    if archive.size is not None and offset > archive.size:
        with writing(part):
            os.truncate(part, archive.size)  # bytes past the published size (an older rib kept them): not the file
        offset = archive.size
    hasher = new_hasher(archive)
    response = None if archive.size is not None and offset == archive.size else _open(url, offset)
    if response is not None and response.status != 206 and offset:
        offset = 0  # the server ignored the range: start again
    announced = None  # the file size the server promised
    if response is not None:
        length = response.headers.get("Content-Length")
        announced = offset + int(length) if length is not None else None
    end = archive.size if archive.size is not None else announced  # never write past it
    if offset:
        _hash_existing(part, hasher)
    task = progress.start(archive.name, end, offset)
    size = offset
    try:
        if response is not None:
            with response, writing(part), open(part, "ab" if offset else "wb") as out:
                try:
                    size = _copy(response, out, hasher, offset, end, lambda n: progress.advance(task, n),
                                 f"the download of {archive.name} from {url}")
                except KeyboardInterrupt as exc:  # what rib says on Ctrl-C / SIGTERM (rib_core/cli.py)
                    exc.kept = f"the {human(out.tell())} of {archive.name} received so far are kept in {part}"
                    raise
                finally:
                    out.flush()
                    os.fsync(out.fileno())
                if end is not None and size < end:
                    raise DataError(f"the download of {archive.name} from {url} broke off after {size} bytes "
                                    f"of {end}. Run the same command again: it continues from there.")
    finally:
        progress.stop(task)
    verify(archive, part, size, hasher, announced)
    os.replace(part, final)
    return final


def _copy(response, out, hasher, size: int, end: int | None, advance, what: str) -> int:
    """Copy the response into `out` until its end or `end` bytes (what is published), never past it; give up on a
    stall. Returns the file's size."""
    window_start, window_bytes = time.monotonic(), 0
    try:
        while end is None or size < end:
            block = response.read1(CHUNK if end is None else min(CHUNK, end - size))  # what has arrived, at once
            if not block:
                break
            out.write(block)
            if hasher is not None:
                hasher.update(block)
            size += len(block)
            advance(len(block))
            window_bytes += len(block)
            now = time.monotonic()
            if now - window_start >= STALL_S:
                if window_bytes < STALL_BYTES:
                    raise DataError(f"{what} stalled: {human(window_bytes)} in the last {now - window_start:.0f} s "
                                    f"(rib gives up below {human(STALL_BYTES)} in {STALL_S:.0f} s). The "
                                    f"{human(size)} received so far are kept: run the same command again to "
                                    "continue from there, or choose another mirror with --mirror.")
                window_start, window_bytes = now, 0
    except TimeoutError as exc:
        raise DataError(f"{what} stalled: nothing received for {TIMEOUT_S} s. The {human(size)} received so far "
                        "are kept: run the same command again to continue from there, or choose another mirror "
                        "with --mirror.") from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        raise DataError(f"{what} broke off after {size} bytes ({type(exc).__name__}). Run the same command again: "
                        "it continues from there.") from exc
    return size
