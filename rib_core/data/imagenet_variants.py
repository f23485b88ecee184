"""Adapters for the ImageNet variants that are plain class-folder trees.

| adapter | layout under its root | classes | label from |
| --- | --- | --- | --- |
| ImageNetV2 | `<0..999>/*.jpeg` | 1000 | folder name = class index |
| ImageNetA | `<wnid>/*.jpg` | 200 | timm's imagenet_a lists |
| ImageNetR | `<wnid>/*.jpg` | 200 | timm's imagenet_r lists |
| ImageNetSketch, ImageNetCartoon, ImageNetDrawing, ImageNetVal | `<wnid>/*` | 1000 | wnid |

ImageNet-A and -R are scored on their 200 classes: the class map is an index subset of the 1000 logits.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rib_core.data.base import ClassMap
from rib_core.data.folders import FolderAdapter, Inventory, list_images
from rib_core.data.imagenet_classes import imagenet_a_classes, imagenet_r_classes, imagenet_wnids
from rib_core.data.source_split import IMAGENET_VAL_SOURCES
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

    expected_classes = 200

    def subset(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        raise NotImplementedError

    def class_map(self) -> ClassMap:
        wnids, indices = self.subset()
        return ClassMap(IMAGENET_1K, wnids, tuple((i,) for i in indices))

    def class_folders(self) -> dict[str, int]:
        wnids, _ = self.subset()
        return {wnid: k for k, wnid in enumerate(wnids)}


class ImageNetV2(FolderAdapter):
    folder_names = ("imagenetv2-matched-frequency-format-val", "imagenetv2-matched-frequency", "imagenet-v2",
                    "imagenetv2", "ImageNetV2-matched-frequency")
    expected_images = 10_000
    expected_classes = 1000
    source_hint = ("ImageNet-V2 matched-frequency: https://huggingface.co/datasets/vaishaal/ImageNetV2 "
                   "(imagenetv2-matched-frequency.tar.gz); unpack it so that the folder holds 0/ ... 999/")

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


class ImageNetA(ImageNetSubset):
    folder_names = ("imagenet-a", "imagenet_a", "ImageNet-A")
    expected_images = 7_500
    source_hint = ("ImageNet-A: https://github.com/hendrycks/natural-adv-examples "
                   "(imagenet-a.tar, unpacks to imagenet-a/<wnid>/*.jpg)")

    def subset(self):
        return imagenet_a_classes()


class ImageNetR(ImageNetSubset):
    folder_names = ("imagenet-r", "imagenet_r", "ImageNet-R")
    expected_images = 30_000
    source_hint = ("ImageNet-R: https://github.com/hendrycks/imagenet-r "
                   "(imagenet-r.tar, unpacks to imagenet-r/<wnid>/*.jpg)")

    def subset(self):
        return imagenet_r_classes()


class ImageNetSketch(WnidFolders):
    folder_names = ("imagenet-sketch", "sketch", "imagenet_sketch", "ImageNet-Sketch", "imagenet-sketch/sketch")
    expected_images = 50_889
    expected_classes = 1000
    source_hint = ("ImageNet-Sketch: https://github.com/HaohanWang/ImageNet-Sketch (ImageNet-Sketch.zip, "
                   "unpacks to sketch/<wnid>/*.JPEG)")


class ImageNetCartoon(WnidFolders):
    folder_names = ("imagenet-cartoon", "imagenet_cartoon", "ImageNet-Cartoon")
    expected_images = 50_000  # one per ImageNet-1k validation image
    expected_classes = 1000
    source_images = IMAGENET_VAL_SOURCES  # named like the val images: rib_core/data/source_split.py
    source_hint = ("ImageNet-Cartoon: https://zenodo.org/records/6801109 (imagenet-cartoon.tar.gz, "
                   "unpacks to imagenet-cartoon/<wnid>/*)")


class ImageNetDrawing(WnidFolders):
    folder_names = ("imagenet-drawing", "imagenet_drawing", "ImageNet-Drawing")
    expected_images = 50_000  # one per ImageNet-1k validation image
    expected_classes = 1000
    source_images = IMAGENET_VAL_SOURCES  # named like the val images: rib_core/data/source_split.py
    source_hint = ("ImageNet-Drawing: https://zenodo.org/records/6801109 (imagenet-drawing.tar.gz, "
                   "unpacks to imagenet-drawing/<wnid>/*)")


class ImageNetVal(WnidFolders):
    folder_names = ("imagenet/val", "imagenet-val", "imagenet_val", "ILSVRC2012/val", "imagenet1k/val",
                    "ILSVRC/Data/CLS-LOC/val", "val")
    expected_images = 50_000
    expected_classes = 1000
    source_images = IMAGENET_VAL_SOURCES  # named like the val images: rib_core/data/source_split.py
    source_hint = ("ImageNet-1k validation set: https://image-net.org/download.php (ILSVRC2012_img_val.tar); "
                   "sort it into val/<wnid>/ILSVRC2012_val_*.JPEG folders, e.g. with the valprep.sh script "
                   "from https://github.com/soumith/imagenetloader.torch")

    def inventory(self) -> Inventory:
        inventory = super().inventory()
        loose = list_images(self.require_root())
        if loose:
            inventory.notes.append(
                f"{len(loose)} images lie directly in {self.root} instead of in <wnid>/ folders: the validation "
                "tar unpacks flat. Sort them into class folders (valprep.sh from "
                "https://github.com/soumith/imagenetloader.torch does it).")
        return inventory
