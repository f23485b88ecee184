"""`imagefolder`: any ImageNet-labelled folder tree, added from benchmarks.toml without code.

    [[datasets]]
    name = "my-photos"
    adapter = "imagefolder"
    path = "/data/my-photos"   # required: the folder holding one sub-folder per class
    labels = "wnid"            # "wnid" (n01440764/...) or "index" (0/ ... 999/, like ImageNet-V2)
    classes = "all"            # "all": scored on all 1000 classes; "present": only on the classes that have
                               # a folder (like ImageNet-A/R's 200-class masks)

Folders that are neither a wnid nor an index (with `labels` as set) are ignored and reported by
`rib datasets check`.
"""

from __future__ import annotations

from rib_core.data.base import ClassMap
from rib_core.data.folders import FolderAdapter, list_images, list_subfolders
from rib_core.data.imagenet_classes import imagenet_wnids
from rib_core.errors import DataError
from rib_core.options import Option
from rib_core.models.base import IMAGENET_1K

LABEL_KINDS = ("wnid", "index")
CLASS_SETS = ("all", "present")


class ImageFolder(FolderAdapter):
    accepted_options = {
        "labels": Option(str, default="wnid", choices=LABEL_KINDS,
                         help="class folders named by wnid (n01440764/) or by ImageNet-1k index (0/ ... 999/)"),
        "classes": Option(str, default="all", choices=CLASS_SETS,
                          help="scored on all 1000 classes, or only on those that have a folder"),
    }
    source_hint = ("imagefolder reads the folder given by `path`: one sub-folder per class, named by wnid "
                   "(labels = \"wnid\") or by ImageNet-1k class index 0..999 (labels = \"index\")")

    def __init__(self, label, root, options=None):
        super().__init__(label, root, options)
        self.labels, self.classes = self.params["labels"], self.params["classes"]

    def require_root(self):
        if self.root is None or not self.root.is_dir():
            where = f" at {self.root}" if self.root is not None else ""
            raise DataError(f"dataset '{self.label}' (adapter 'imagefolder') was not found{where}. Set "
                            "`path = \"...\"` for it in the suite: the folder holding one sub-folder per class.")
        return self.root

    def _imagenet_folders(self) -> dict[str, int]:
        """Folder name -> ImageNet-1k index, for every name this label scheme knows."""
        if self.labels == "index":
            return {str(i): i for i in range(1000)}
        return {wnid: i for i, wnid in enumerate(imagenet_wnids())}

    def _present_indices(self) -> list[int]:
        known = self._imagenet_folders()
        root = self.require_root()
        return sorted(known[name] for name in list_subfolders(root) if name in known and list_images(root / name))

    def class_map(self) -> ClassMap:
        names = imagenet_wnids()
        indices = range(1000) if self.classes == "all" else self._present_indices()
        return ClassMap(IMAGENET_1K, tuple(names[i] for i in indices), tuple((i,) for i in indices))

    def class_folders(self) -> dict[str, int]:
        known = self._imagenet_folders()
        if self.classes == "all":
            return known
        position = {index: k for k, index in enumerate(self._present_indices())}
        return {name: position[i] for name, i in known.items() if i in position}

    def inventory(self):
        # A user's tree defines its own classes: a class without a folder is a choice, not a gap.
        inventory = super().inventory()
        inventory.missing = []
        return inventory
