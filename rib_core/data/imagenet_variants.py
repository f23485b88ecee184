"""Adapters for the ImageNet variants that are plain class-folder trees.

| adapter | layout under its root | classes | label from |
| --- | --- | --- | --- |
| ImageNetV2 | `<0..999>/*.jpeg` | 1000 | folder name = class index |
| ImageNetA | `<wnid>/*.jpg` | 200 | timm's imagenet_a lists |
| ImageNetR | `<wnid>/*.jpg` | 200 | timm's imagenet_r lists |
| ImageNetSketch, ImageNetCartoon, ImageNetDrawing, ImageNetVal | `<wnid>/*` | 1000 | wnid |

ImageNet-A and -R are scored on their 200 classes: the class map is an index subset of the 1000 logits.
Folder names, published counts and where to get each dataset are its card (rib_core/data/cards.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rib_core.data.base import ClassMap
from rib_core.data.folders import FolderAdapter, Inventory, list_images
from rib_core.data.imagenet_classes import imagenet_a_classes, imagenet_r_classes, imagenet_wnids
from rib_core.data.cards import CARDS
from rib_core.models.base import IMAGENET_1K


def full_imagenet_class_map() -> ClassMap:
    return ClassMap(IMAGENET_1K, imagenet_wnids(), tuple((i,) for i in range(1000)))


class WnidFolders(FolderAdapter):
    """`<wnid>/<image>` for the 1000 ImageNet-1k classes."""

    def class_map(self) -> ClassMap:
        return full_imagenet_class_map()

    def class_folders(self) -> dict[str, int]:
        return {wnid: i for i, wnid in enumerate(imagenet_wnids())}


class ImageNetSubset(FolderAdapter):
    """`<wnid>/<image>` for a subset of ImageNet-1k (scored on the subset's classes only)."""

    def subset(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        raise NotImplementedError

    def class_map(self) -> ClassMap:
        wnids, indices = self.subset()
        return ClassMap(IMAGENET_1K, wnids, tuple((i,) for i in indices))

    def class_folders(self) -> dict[str, int]:
        wnids, _ = self.subset()
        return {wnid: k for k, wnid in enumerate(wnids)}


class ImageNetV2(FolderAdapter, card=CARDS["imagenet-v2"]):
    def class_map(self) -> ClassMap:
        return full_imagenet_class_map()

    def class_folders(self) -> dict[str, int]:
        return {str(i): i for i in range(1000)}

    @classmethod
    def misplaced_hint(cls, data_root, root):
        """ImageNet-V2 has three variants; rib's is matched-frequency. Name a threshold0.7 / top-images folder
        found at the data root, in the dataset folder, or one level below either."""
        found = []
        for base in {Path(p) for p in (data_root, root) if p}:
            for folder in (base, *_subfolders(base)):
                found += [f for f in _subfolders(folder) if OTHER_V2.match(f.name)]
        if not found:
            return None
        names = ", ".join(sorted({str(f) for f in found}))
        return (f"found {names}: a different ImageNet-V2 variant (threshold0.7 or top-images). rib's "
                "imagenet-v2 is the matched-frequency variant (imagenetv2-matched-frequency.tar.gz); to evaluate "
                "another one on purpose, use an imagefolder entry with labels = \"index\" and its path.")


OTHER_V2 = re.compile(r"imagenetv2-(threshold|top-images)", re.IGNORECASE)


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(Path(e.path) for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


class ImageNetA(ImageNetSubset, card=CARDS["imagenet-a"]):
    def subset(self):
        return imagenet_a_classes()


class ImageNetR(ImageNetSubset, card=CARDS["imagenet-r"]):
    def subset(self):
        return imagenet_r_classes()


# Three datasets that differ only by their rows: every image sits in its class's <wnid>/ folder.
class ImageNetSketch(WnidFolders, card=CARDS["imagenet-sketch"]):
    """ImageNet-Sketch: black-and-white sketches of the 1000 classes."""


class ImageNetCartoon(WnidFolders, card=CARDS["imagenet-cartoon"]):
    """ImageNet-Cartoon: the 50,000 validation images rendered as cartoons."""


class ImageNetDrawing(WnidFolders, card=CARDS["imagenet-drawing"]):
    """ImageNet-Drawing: the 50,000 validation images rendered as drawings."""


class ImageNetVal(WnidFolders, card=CARDS["imagenet-val"]):
    def inventory(self) -> Inventory:
        inventory = super().inventory()
        loose = list_images(self.require_root())
        if loose:
            inventory.notes.append(
                f"{len(loose)} images lie directly in {self.root} instead of in <wnid>/ folders: the validation "
                "tar unpacks flat. Sort them into class folders (valprep.sh from "
                "https://github.com/soumith/imagenetloader.torch does it).")
        return inventory
