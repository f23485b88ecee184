"""ObjectNet 1.0: `images/<folder>/*.png` and `mappings/*.json` under `objectnet-1.0/`.

Of its 313 object folders, 113 ObjectNet classes correspond to one or more ImageNet-1k classes. rib follows the
standard scoring (Barbu et al.): images in the other folders are excluded, and a class's score is the maximum
logit over the ImageNet-1k classes it maps to (ClassMap groups, max-pooled). The images carry a thin coloured
border that is not part of the photo: `open_image` crops 2 pixels from each side before resizing.

The mapping comes from the dataset's own `mappings/` folder:
- folder_to_objectnet_label.json: image folder -> ObjectNet class name (313 entries),
- objectnet_to_imagenet_1k.json: ObjectNet class name -> ImageNet-1k label strings joined by "; " (113 entries),
- imagenet_to_labels.json: ImageNet-1k index -> label string (turns those strings into class indices).
If a copy of the dataset lacks `mappings/`, the identical published files bundled with rib are used.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from rib_core.data.base import ClassMap
from rib_core.data.folders import FolderAdapter, Inventory, list_subfolders, safe_relative
from rib_core.data.cards import CARDS
from rib_core.errors import DataError
from rib_core.models.base import IMAGENET_1K

BUNDLED_MAPPINGS = Path(__file__).parent / "objectnet_mappings"
MAPPING_FILES = ("folder_to_objectnet_label.json", "objectnet_to_imagenet_1k.json", "imagenet_to_labels.json")
BORDER = 2


def load_mapping(mappings_dir: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """-> (image folder -> ObjectNet class name, ObjectNet class name -> ImageNet-1k indices), validated."""
    loaded = []
    for name in MAPPING_FILES:
        path = mappings_dir / name
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise DataError(f"ObjectNet mapping file {path} could not be read ({exc}). Re-download ObjectNet "
                            "or restore its mappings/ folder.") from exc
    folder_to_label, objectnet_to_imagenet, imagenet_to_labels = loaded

    for folder in folder_to_label:
        if "/" in safe_relative(folder, f"ObjectNet's {MAPPING_FILES[0]}"):
            raise DataError(f"ObjectNet's {MAPPING_FILES[0]} names the folder '{folder}', which is not a single "
                            "folder name. Restore the published mapping file.")

    indices_of_label: dict[str, list[int]] = {}
    for index, label in imagenet_to_labels.items():
        indices_of_label.setdefault(label, []).append(int(index))

    groups = {}
    for objectnet_class, joined in objectnet_to_imagenet.items():
        indices = []
        for imagenet_label in joined.split("; "):
            found = indices_of_label.get(imagenet_label, [])
            if len(found) != 1:
                problem = "is not" if not found else f"is ambiguous ({found}) in"
                raise DataError(f"ObjectNet class '{objectnet_class}' maps to the ImageNet label "
                                f"'{imagenet_label}', which {problem} {MAPPING_FILES[2]}. Restore the published "
                                "mapping files.")
            indices.append(found[0])
        groups[objectnet_class] = tuple(sorted(set(indices)))
    return folder_to_label, groups


class ObjectNet(FolderAdapter, card=CARDS["objectnet"]):
    # Folder names, counts (18,574 images in the 113 classes that overlap ImageNet-1k) and where to get it: its
    # card (rib_core/data/cards.py).

    @property
    def mappings_dir(self) -> Path:
        """The dataset's own mappings/, else the bundled copy (so the class map is known without the data)."""
        own = self.root / "mappings" if self.root is not None else None
        return own if own and all((own / name).is_file() for name in MAPPING_FILES) else BUNDLED_MAPPINGS

    @cached_property
    def _mapping(self):
        folder_to_label, groups = load_mapping(self.mappings_dir)
        classes = tuple(sorted(groups))
        return folder_to_label, groups, classes

    def class_map(self) -> ClassMap:
        _, groups, classes = self._mapping
        return ClassMap(IMAGENET_1K, classes, tuple(groups[c] for c in classes))

    def class_folders(self) -> dict[str, int]:
        folder_to_label, _, classes = self._mapping
        index = {name: k for k, name in enumerate(classes)}
        return {f"images/{folder}": index[label] for folder, label in sorted(folder_to_label.items())
                if label in index}

    def unexpected_folders(self) -> list[str]:
        folder_to_label, _, _ = self._mapping
        root = self.require_root()
        unexpected = [f"images/{name}" for name in list_subfolders(root / "images") if name not in folder_to_label]
        unexpected += [name for name in list_subfolders(root) if name not in ("images", "mappings")]
        return unexpected

    def inventory(self) -> Inventory:
        inventory = super().inventory()
        if self.mappings_dir == BUNDLED_MAPPINGS:
            inventory.notes.append(f"{self.root}/mappings/ lacks {', '.join(MAPPING_FILES)}: using the copies "
                                   "bundled with rib (identical to ObjectNet 1.0's published files).")
        return inventory

    def manifest_files(self) -> list[str]:
        mappings = [f"mappings/{name}" for name in MAPPING_FILES if (self.require_root() / "mappings" / name).is_file()]
        return mappings + super().manifest_files()

    def open_image(self, path: str):
        from PIL import Image

        with Image.open(self.require_root() / path) as im:
            im = im.convert("RGB")
        w, h = im.size
        if w > 2 * BORDER and h > 2 * BORDER:
            im = im.crop((BORDER, BORDER, w - BORDER, h - BORDER))
        return im
