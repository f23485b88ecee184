"""The shape every ImageNet variant shares: images sit in one folder per class.

`FolderAdapter` lists those folders once, turns them into sorted samples, and tells `check` which class folders
are missing or unexpected. Subclasses only say which folders hold which class (`class_folders`), how their
classes map onto ImageNet-1k (`class_map`) and, for ImageNet-C, which sub-population a folder belongs to.

Listing is deliberately flat: images directly inside a class folder, never deeper, so a symlink loop inside a
dataset cannot trap the scan. Hidden files (".DS_Store", macOS "._x.jpg" forks) and non-image files
("README.txt") are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rib_core.data.base import IMAGE_EXTENSIONS, DatasetAdapter, Sample
from rib_core.data.cards import DatasetCard
from rib_core.errors import DataError


@dataclass
class Inventory:
    """What `check` reports about a tree's folders, beyond counting images."""

    missing: list[str] = field(default_factory=list)  # expected class folders absent or without images
    unexpected: list[str] = field(default_factory=list)  # folders that are no class of this dataset
    notes: list[str] = field(default_factory=list)  # other findings, one line each, with what to do


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _scan(folder: Path, wanted) -> list[str]:
    """Sorted names of the entries of `folder` for which `wanted(entry)` holds; [] if it does not exist.

    A broken or looping symlink makes `wanted` raise OSError: that entry is skipped, never fatal.
    """
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = []
    for entry in entries:
        try:
            if wanted(entry):
                names.append(entry.name)
        except OSError:
            continue
    return sorted(names)


def list_images(folder: Path) -> list[str]:
    """Names of the image files directly inside `folder` (sorted; symlinks to files count)."""
    return _scan(folder, lambda entry: is_image_name(entry.name) and entry.is_file())


def list_subfolders(folder: Path) -> list[str]:
    """Names of the non-hidden directories directly inside `folder` (sorted)."""
    return _scan(folder, lambda entry: not entry.name.startswith(".") and entry.is_dir())


def safe_relative(path: str, what: str) -> str:
    """Refuse a relative path that would leave the dataset root (absolute, '..', backslashes, drive letters)."""
    pure = PurePosixPath(path)
    if (not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or ":" in path
            or path.startswith("~")):
        raise DataError(f"{what} names the path '{path}', which is not inside the dataset folder. "
                        "Dataset files must use relative paths without '..'; fix or re-download that file.")
    return pure.as_posix()


class FolderAdapter(DatasetAdapter):
    """Base for adapters whose images are `<class folder>/<image>` under the dataset root.

    A built-in adapter names its card (rib_core.data.cards.CARDS) in its class statement,
    `class ImageNetA(ImageNetSubset, card=CARDS["imagenet-a"])`: the card's facts (folder_names,
    expected_images, expected_classes, source_hint, source_images, image_size) become its class attributes.
    """

    #: The card this adapter's facts come from (None: set as class attributes by hand).
    card: DatasetCard | None = None

    def __init_subclass__(cls, card: DatasetCard | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if card is not None:
            cls.card = card
            for name, value in card.adapter_facts().items():
                setattr(cls, name, value)

    def class_folders(self) -> dict[str, int]:
        """Relative folder path ('/'-separated) -> label, for every folder expected to hold a class's images."""
        raise NotImplementedError

    def group_of(self, folder: str) -> str:
        """The sub-population a class folder belongs to (ImageNet-C: '<corruption>/<severity>')."""
        return ""

    def cluster_of(self, path: str) -> str:
        """The bootstrap cluster of an image (see Sample.cluster); "" = the image is its own."""
        return ""

    def require_root(self) -> Path:
        if self.root is None or not self.root.is_dir():
            where = f" at {self.root}" if self.root is not None else ""
            raise DataError(f"dataset '{self.label}' was not found{where}. Run `rib datasets check {self.label}` "
                            "to see where rib looked and how to get it.")
        return self.root

    def samples(self) -> list[Sample]:
        cached = getattr(self, "_samples", None)
        if cached is not None:
            return cached
        root = self.require_root()
        found = []
        for folder, label in self.class_folders().items():
            folder = safe_relative(folder, f"dataset '{self.label}'")
            group = self.group_of(folder)
            found.extend(Sample(f"{folder}/{name}", label, group, self.cluster_of(f"{folder}/{name}"))
                         for name in list_images(root / folder))
        found.sort(key=lambda s: s.path)
        self._samples = found
        return found

    def present_class_folders(self) -> set[str]:
        """The expected class folders that hold at least one image."""
        return {s.path.rsplit("/", 1)[0] for s in self.samples()}

    def unexpected_folders(self) -> list[str]:
        """Folders where class folders live that are no class of this dataset (default: the root's subfolders)."""
        expected = set(self.class_folders())
        return [name for name in list_subfolders(self.require_root()) if name not in expected]

    def inventory(self) -> Inventory:
        present = self.present_class_folders()
        missing = sorted(f for f in self.class_folders() if f not in present)
        return Inventory(missing=missing, unexpected=self.unexpected_folders())

    def manifest_files(self) -> list[str]:
        """Every file whose bytes determine results (for `rib datasets check --digest`)."""
        return [s.path for s in self.samples()]

    def check(self, deep: bool = False, workers: int = 0, progress=None):
        from rib_core.data.check import check_adapter

        return check_adapter(self, deep=deep, workers=workers, progress=progress)
