"""`rib datasets get`: download, verify, unpack and check the datasets of a suite (or named ones).

Per dataset: its archives are downloaded into `<root>/.rib-downloads/<dataset>/` (resumable), unpacked into
`<root>/.rib-unpacking-<dataset>/` and only then renamed to the folder rib looks in, so a killed run never
leaves something that looks complete. A folder that is already there is checked, never overwritten.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rib_core.data.download import MIRROR_ENV, download, mirrored
from rib_core.data.imagenet_val import NEEDS_ACCOUNT, read_labels, sort_val_tar
from rib_core.data.progress import human, make_progress
from rib_core.data.cards import source_of
from rib_core.data.sources import Source
from rib_core.data.unpack import unpack
from rib_core.errors import DataError, UsageError

DOWNLOADS = ".rib-downloads"
STAGING_PREFIX = ".rib-unpacking-"


@dataclass
class Item:
    """One dataset to get: its source (None when it cannot be downloaded) and what stands in the way."""

    dataset: str
    source: Source | None
    folder: Path | None = None
    present: bool = False
    problem: str = ""
    partial_bytes: int = 0  # already downloaded (.part files and finished archives)
    needs_file: bool = False  # cannot be downloaded and the user gave no copy (ImageNet-1k val without --val-tar)
    unknown: list[str] = field(default_factory=list)

    def download_bytes(self) -> int:
        if self.source is None or self.present or self.source.needs_account:  # the user's own file: no download
            return 0
        return sum(a.size for a in self.source.archives if a.size is not None) - self.partial_bytes

    def unpacked_bytes(self) -> int:
        # Images do not compress: an unpacked archive takes about its own size (the estimate rib uses).
        if self.source is None or self.present:
            return 0
        return sum(a.size for a in self.source.archives if a.size is not None)


def free_bytes(path: Path) -> int:
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


@dataclass(frozen=True)
class GetOptions:
    """How `rib datasets get` fetches: the command line's options."""

    mirror: str | None = None  # URL prefix replacing the source hosts (default: $RIB_DATA_MIRROR)
    objectnet_password: str | None = None
    val_tar: Path | None = None  # the user's ILSVRC2012_img_val.tar
    val_labels: Path | None = None
    any_val_tar: bool = False
    keep_archives: bool = False

    @property
    def chosen_mirror(self) -> str | None:
        return self.mirror or os.environ.get(MIRROR_ENV) or None


def plan(names: list[str], registry, root: Path, val_tar: Path | None) -> list[Item]:
    items = []
    for name in names:
        cls = registry.load("datasets", name)
        source = source_of(name, cls)
        if source is not None and source.needs_account and val_tar is None:
            item = Item(name, None, problem=NEEDS_ACCOUNT, needs_file=True)
        else:
            item = Item(name, source, problem="" if source else f"rib knows no published source for '{name}'; "
                        "get it by hand (see `rib datasets check " + name + "`).")
        if source is not None:
            item.folder = root / source.folder
            item.present = item.folder.exists()
            downloads = root / DOWNLOADS / name
            for archive in source.archives:
                for candidate in (downloads / archive.name, downloads / f"{archive.name}.part"):
                    if candidate.is_file() and archive.size is not None:
                        item.partial_bytes += candidate.stat().st_size
                if archive.size is None:
                    item.unknown.append(archive.name)
        items.append(item)
    return items


def disk_line(items: list[Item], root: Path) -> tuple[int, str]:
    needed = sum(i.download_bytes() + i.unpacked_bytes() for i in items)
    unknown = [f for i in items if not i.present for f in i.unknown]
    line = (f"disk needed: {human(needed)} (download + unpacked, unpacked estimated as the archive size), "
            f"{human(free_bytes(root))} free at {root}")
    if unknown:
        line += f"; plus the unpublished sizes of {', '.join(unknown)} (about twice each file's size)"
    return needed, line


def print_plan(items: list[Item], root: Path, mirror: str | None, console) -> None:
    """One line per file: dataset, file, size, how it is verified, where from, where to."""
    for item in items:
        if item.source is None:
            console.print(f"{item.dataset}: not downloaded: {item.problem}", highlight=False, soft_wrap=True)
            continue
        for archive in item.source.archives:
            into = f"{item.folder} exists: checked, not downloaded" if item.present else f"-> {item.folder}"
            check = (f"{archive.checksum.split(':')[0]} ({archive.checksum_from})" if archive.checksum else
                     "size only" if archive.size else "image count only (no checksum or size is published)")
            origin = "your --val-tar" if item.source.needs_account else mirrored(archive.urls[0], mirror)
            console.print(f"{item.dataset}: {archive.name}, {human(archive.size)}, verified by {check}, from "
                          f"{origin} {into}", highlight=False, soft_wrap=True)
    console.print(disk_line(items, root)[1], highlight=False, soft_wrap=True)


def _password(item: Item, given: str | None) -> str | None:
    source = item.source
    if not source.password_env:
        return None
    password = given or os.environ.get(source.password_env)
    if not password:
        raise DataError(f"{item.dataset}: {source.archives[0].name} is password-protected. Read and accept its licence "
                        f"({source.licence}), then pass {source.password_hint} with --objectnet-password or the "
                        f"environment variable {source.password_env}.")
    return password


def get_one(item: Item, root: Path, options: GetOptions, progress, console) -> None:
    source = item.source
    password = _password(item, options.objectnet_password)
    downloads = root / DOWNLOADS / item.dataset
    if source.needs_account:  # ImageNet-1k val: the user's tar, sorted by the user's labels
        if not options.val_labels:
            raise DataError(f"imagenet-val: --val-labels is missing. {NEEDS_ACCOUNT}")
        labels = read_labels(Path(options.val_labels))
        files = [_verified_val_tar(Path(options.val_tar), progress, options.any_val_tar)]
    else:
        files = [download(a, downloads, progress, options.chosen_mirror) for a in source.archives]
    staging = root / f"{STAGING_PREFIX}{item.dataset}"
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted unpack: start it again
    unpacked = sum(path.stat().st_size for path in files)  # sizes not published are known now
    if unpacked > free_bytes(root):
        raise DataError(f"{item.dataset}: unpacking needs about {human(unpacked)}, {human(free_bytes(root))} are free "
                        f"at {root}. Free some space and run again: the downloaded files are kept.")
    console.print(f"{item.dataset}: unpacking into {item.folder}", highlight=False)
    if source.needs_account:
        sort_val_tar(files[0], labels, staging)
    else:
        help_text = (f"Pass {source.password_hint} with --objectnet-password or {source.password_env}."
                     if source.password_env else "")
        for archive, path in zip(source.archives, files):
            unpack(path, archive.format, archive.strip, staging, password, help_text)
    item.folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, item.folder)
    if not options.keep_archives and not source.needs_account:  # never delete the user's own file
        shutil.rmtree(downloads, ignore_errors=True)
        if not any(downloads.parent.iterdir()):
            downloads.parent.rmdir()


def _verified_val_tar(path: Path, progress, any_tar: bool) -> Path:
    from rib_core.data.cards import IMAGENET_VAL_TAR
    from rib_core.data.download import CHUNK, mismatch, new_hasher

    if not path.is_file():
        raise DataError(f"--val-tar {path}: no such file. {NEEDS_ACCOUNT}")
    hasher, size = new_hasher(IMAGENET_VAL_TAR), path.stat().st_size
    if size == IMAGENET_VAL_TAR.size and not any_tar:  # hash only a file that can be the published one
        task = progress.start(f"verifying {path.name}", size, 0)
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                hasher.update(block)
                progress.advance(task, len(block))
        progress.stop(task)
    problem = None if any_tar else mismatch(IMAGENET_VAL_TAR, size, hasher)
    if problem:
        raise DataError(f"--val-tar {path} is not the published ILSVRC2012_img_val.tar: {problem}. Your file was "
                        "kept. Add --any-val-tar to sort it anyway (e.g. a re-packed copy).")
    return path


def get_datasets(names: list[str], registry, root: Path, options: GetOptions, console,
                 dry_run: bool = False) -> tuple[list[str], bool]:
    """Download, verify and unpack `names` into `root` (with `dry_run`, only print what would happen).

    Returns (the datasets now on disk, to be checked; whether every one of `names` could be got)."""
    items = plan(names, registry, root, options.val_tar)
    if dry_run:
        print_plan(items, root, options.chosen_mirror, console)
        return [], True
    if len(items) == 1 and items[0].needs_file:  # asked for it alone: say how, instead of skipping it
        raise UsageError(items[0].problem)
    wanted = [i for i in items if i.source is not None and not i.present]
    for item in wanted:
        _password(item, options.objectnet_password)  # before any byte is downloaded
    needed, line = disk_line(wanted, root)
    if needed > free_bytes(root):
        raise DataError(f"not enough free disk: {line}. Free some space or choose another --data-root, then run "
                        "again.")
    progress = make_progress(console)
    for item in items:
        if item.source is None:
            console.print(f"{item.dataset}: skipped: {item.problem}", highlight=False)
        elif item.present:
            console.print(f"{item.dataset}: {item.folder} exists; checking it, not downloading", highlight=False)
        else:
            get_one(item, root, options, progress, console)
    checked = [i.dataset for i in items if i.source is not None]
    return checked, len(checked) == len(items)
