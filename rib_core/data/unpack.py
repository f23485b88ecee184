"""Unpack a verified archive into a staging folder, mapping its members onto the layout rib expects.

Only regular files and folders are written, and only inside the staging folder: links, devices and any path
with '..' or an absolute name are skipped (a hostile or broken archive cannot write elsewhere). The caller
renames the staging folder into place once every archive of the dataset is unpacked, so an interrupted
unpack never looks like a complete dataset.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from rib_core.disk import writing
from rib_core.errors import DataError

COPY_CHUNK = 1 << 20


def mapped_path(member: str, strip: str) -> str | None:
    """The member's path inside the dataset folder, or None when it lies outside `strip` or is unsafe."""
    pure = PurePosixPath(member.replace("\\", "/"))
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts or pure.is_absolute() or ".." in parts:
        return None
    if strip:
        prefix = PurePosixPath(strip).parts
        if tuple(parts[:len(prefix)]) != prefix:
            return None
        parts = parts[len(prefix):]
    if not parts or parts[0].startswith("__MACOSX"):
        return None
    return "/".join(parts)


def _write(stream, target: Path) -> None:
    with writing(target):  # a full disk: DiskFull naming the file (the staging folder is never taken as done)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK)


def unpack_tar(path: Path, strip: str, staging: Path, compressed: bool) -> int:
    count = 0
    try:
        with tarfile.open(path, "r:gz" if compressed else "r:") as tar:
            for member in tar:  # streams: works for .tar.gz without seeking back
                relative = mapped_path(member.name, strip)
                if relative is None:
                    continue
                if member.isdir():
                    (staging / relative).mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    _write(tar.extractfile(member), staging / relative)
                    count += 1
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path.name} cannot be unpacked ({exc}). Delete it and run again to download it afresh.")
    return count


def _encrypted(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(info.flag_bits & 0x1 for info in archive.infolist())
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path.name} cannot be unpacked ({exc}). Delete it and run again to download it afresh.")


def unzip_tool(path: Path, strip: str, staging: Path, password: str, password_help: str) -> int | None:
    """Decrypt with the `unzip` program when there is one: Python's ZipCrypto is pure Python, far too slow for
    ObjectNet's size. Returns the file count, or None when no `unzip` is installed."""
    tool = shutil.which("unzip")
    if tool is None:
        return None
    scratch = staging.with_name(staging.name + ".unzip")
    shutil.rmtree(scratch, ignore_errors=True)
    command = [tool, "-q", "-o", "-P", password, str(path)] + ([f"{strip}/*"] if strip else []) + ["-d", str(scratch)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 82:
        shutil.rmtree(scratch, ignore_errors=True)
        raise DataError(f"{path.name}: the password is wrong. {password_help}")
    if done.returncode not in (0, 1):  # 1: warnings only
        shutil.rmtree(scratch, ignore_errors=True)
        raise DataError(f"{path.name}: unzip failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    count = 0
    source = scratch / strip if strip else scratch
    for folder, _, names in os.walk(source):
        for name in names:
            file = Path(folder) / name
            relative = mapped_path(file.relative_to(source).as_posix(), "")
            if relative is None or file.is_symlink():
                continue  # links could point anywhere: only regular files are taken
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(file, staging / relative)
            count += 1
    shutil.rmtree(scratch, ignore_errors=True)
    return count


def unpack_zip(path: Path, strip: str, staging: Path, password: str | None, password_help: str) -> int:
    if password and _encrypted(path):
        count = unzip_tool(path, strip, staging, password, password_help)
        if count is not None:
            return count
    count = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                relative = mapped_path(info.filename, strip)
                if relative is None:
                    continue
                if info.is_dir():
                    (staging / relative).mkdir(parents=True, exist_ok=True)
                    continue
                if info.flag_bits & 0x1 and not password:
                    raise DataError(f"{path.name} is password-protected and no password was given. {password_help}")
                with archive.open(info, pwd=password.encode() if password else None) as stream:
                    _write(stream, staging / relative)
                count += 1
    except RuntimeError as exc:  # zipfile: "Bad password for file ..."
        raise DataError(f"{path.name}: {exc}: the password is wrong. {password_help}") from exc
    except NotImplementedError as exc:  # AES encryption or an unusual compression method
        raise DataError(f"{path.name} uses a zip feature Python cannot read ({exc}). Unpack it with "
                        f"`unzip -P PASSWORD {path.name}` into the data root, then run `rib datasets check`.") from exc
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path.name} cannot be unpacked ({exc}). Delete it and run again to download it afresh.")
    return count


def unpack(path: Path, fmt: str, strip: str, staging: Path, password: str | None = None,
           password_help: str = "") -> int:
    """Unpack `path` (tar, tar.gz or zip) into `staging`; returns how many files were written."""
    staging.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "zip":
            count = unpack_zip(path, strip, staging, password, password_help)
        else:
            count = unpack_tar(path, strip, staging, compressed=fmt == "tar.gz")
    except KeyboardInterrupt as exc:  # what rib says on Ctrl-C / SIGTERM (rib_core/cli.py)
        exc.kept = f"the verified archives are kept ({path.parent}); unpacking starts again"
        raise
    if count == 0:
        where = f" under '{strip}/'" if strip else ""
        raise DataError(f"{path.name} holds no file{where}: it is not the published archive. Delete it and run "
                        "again, or check --mirror.")
    return count
