"""Tiny dataset trees in each dataset's exact distributed layout, for tests (rib's and plugins').

    from rib_core.data.fixtures import make_dataset_tree
    root = make_dataset_tree("imagenet-r", tmp_path)      # -> tmp_path / "imagenet-r"
    # resolve_root(ImageNetR, "imagenet-r", str(tmp_path), None) finds the same folder

Every tree has `n_classes` classes with `per_class` images each, file names and extensions as in the real
dataset, and the strays real downloads have: a README.txt beside the class folders, a hidden .DS_Store and a
macOS "._" fork inside a class folder. Images are small RGB pictures whose pattern (colour, stripe angle and
frequency) is fixed by their ImageNet-1k class and whose style depends on the dataset, so a model can learn
the classes and feel a domain shift. Class choice (`fixture_classes`): the first `n_classes` ImageNet-1k
classes that are in both ImageNet-A and ImageNet-R, for every dataset except ObjectNet, which uses its first
`n_classes` folders that map to ImageNet (sorted by folder name) plus one folder that does not (excluded).

ImageNet-C gets FIXTURE_CORRUPTIONS x FIXTURE_SEVERITIES; select them with the adapter options
`corruptions` / `severities` (or accept "partial" from check, as for every fixture: 3 classes are not 1000).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from rib_core.data.imagenet_classes import imagenet_a_classes, imagenet_names, imagenet_r_classes, imagenet_wnids

FIXTURE_CORRUPTIONS = ("gaussian_noise", "motion_blur", "fog")
FIXTURE_SEVERITIES = (1, 5)
OBJECTNET_BORDER_COLOUR = (255, 0, 255)  # 2-pixel frame that the ObjectNet adapter must crop away

# Folder under the data root that each dataset's tree is written to: one of the names resolve_root tries (its
# card's folder_names; tests/test_dataset_cards.py checks it). Sketch uses "sketch", the name its
# published archive unpacks to, so the commonest real layout is the one tested.
TREE_FOLDERS = {
    "imagenet-v2": "imagenetv2-matched-frequency-format-val",
    "imagenet-a": "imagenet-a",
    "imagenet-r": "imagenet-r",
    "imagenet-sketch": "sketch",
    "imagenet-cartoon": "imagenet-cartoon",
    "imagenet-drawing": "imagenet-drawing",
    "imagenet-c": "imagenet-c",
    "objectnet": "objectnet-1.0",
    "imagenet-val": "imagenet/val",
}
DATASETS = tuple(TREE_FOLDERS)
R_STYLES = ("art", "cartoon", "deviantart", "embroidery", "graffiti", "painting", "sketch", "toy")


def _objectnet_mappings_source() -> Path:
    # Copies of ObjectNet's own mappings/ files ship with rib (tests/test_data_adapters.py checks them
    # against the project's reference copy when it is present).
    from rib_core.data.objectnet import BUNDLED_MAPPINGS

    return BUNDLED_MAPPINGS


def _objectnet_folders(n_classes: int) -> tuple[list[tuple[str, int]], str]:
    """([(folder, the first ImageNet-1k index of its class)], one folder without an ImageNet counterpart)."""
    from rib_core.data.objectnet import load_mapping

    folder_to_label, groups = load_mapping(_objectnet_mappings_source())
    mapped = [(f, groups[label][0]) for f, label in sorted(folder_to_label.items()) if label in groups]
    unmapped = next(f for f, label in sorted(folder_to_label.items()) if label not in groups)
    return mapped[:n_classes], unmapped


def fixture_classes(name: str, n_classes: int = 3) -> list[int]:
    """ImageNet-1k indices of the classes `make_dataset_tree(name, ...)` writes (ObjectNet: first of each group)."""
    if name == "objectnet":
        return [index for _, index in _objectnet_folders(n_classes)[0]]
    common = sorted(set(imagenet_a_classes()[1]) & set(imagenet_r_classes()[1]))
    if n_classes > len(common):
        raise ValueError(f"fixtures support at most {len(common)} classes, asked for {n_classes}")
    return common[:n_classes]


def class_pattern(imagenet_index: int, width: int, height: int, style: str, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 picture (height, width, 3) determined by the class, styled per dataset, with noise."""
    crng = np.random.default_rng(1_000_003 + imagenet_index)
    base = crng.uniform(50, 205, 3)
    angle, frequency = crng.uniform(0, np.pi), crng.uniform(1.5, 5.0)
    signs = crng.choice([-1.0, 1.0], 3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi)
    stripes = np.sin(2 * np.pi * frequency * (xx * np.cos(angle) + yy * np.sin(angle)) / width + phase)
    image = base + 45.0 * stripes[..., None] * signs + rng.normal(0, 8, (height, width, 3))
    if style in ("sketch", "drawing"):
        image = np.repeat(image.mean(axis=2, keepdims=True), 3, axis=2)
    elif style == "cartoon":
        image = np.round(image / 64) * 64
    elif style == "rendition":
        image = 255 - image
    elif style.startswith("corrupt"):
        image = image + rng.normal(0, 6 * int(style[-1]), image.shape)
    elif style == "adversarial":
        image = image + rng.normal(0, 25, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write(path: Path, pixels: np.ndarray, border: tuple[int, int, int] | None = None) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if border is not None:
        pixels = pixels.copy()
        pixels[:2], pixels[-2:], pixels[:, :2], pixels[:, -2:] = border, border, border, border
    image = Image.fromarray(pixels, "RGB")
    if path.suffix.lower() == ".png":
        image.save(path)
    else:
        image.save(path, format="JPEG", quality=90)


def _strays(root: Path, first_class_folder: Path) -> None:
    (root / "README.txt").write_text("A tiny fixture of this dataset, written by rib_core.data.fixtures.\n")
    (first_class_folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (first_class_folder / "._hidden_fork.jpg").write_bytes(b"\0\5\26\7 AppleDouble, not an image")


def make_dataset_tree(name: str, root: Path, *, n_classes: int = 3, per_class: int = 2, size: int = 40,
                      seed: int = 0) -> Path:
    """Write a tiny `name` tree under the data root `root`; return the dataset's folder.

    `name` is one of DATASETS. Images are `size` pixels wide and 3/4 as high (not square, so resizing and
    cropping are exercised); the same arguments always write the same bytes.
    """
    if name not in TREE_FOLDERS:
        raise ValueError(f"no fixture for '{name}'; known: {', '.join(DATASETS)}")
    root = Path(root)
    dataset_root = root / TREE_FOLDERS[name]
    dataset_root.mkdir(parents=True, exist_ok=True)
    width, height = size, max(8, size * 3 // 4)
    rng = np.random.default_rng([seed, DATASETS.index(name)])
    wnids, names = imagenet_wnids(), imagenet_names()

    if name == "objectnet":
        shutil.copytree(_objectnet_mappings_source(), dataset_root / "mappings", dirs_exist_ok=True)
        mapped, unmapped = _objectnet_folders(n_classes)
        for folder, index in mapped + [(unmapped, 0)]:
            for i in range(per_class):
                digest = hashlib.sha1(f"{seed}/{folder}/{i}".encode()).hexdigest()[:16]
                _write(dataset_root / "images" / folder / f"{digest}.png",
                       class_pattern(index, width, height, "photo", rng), border=OBJECTNET_BORDER_COLOUR)
        _strays(dataset_root, dataset_root / "images" / mapped[0][0])
        return dataset_root

    classes = fixture_classes(name, n_classes)
    first_folder = None
    for index in classes:
        wnid = wnids[index]
        for i in range(per_class):
            val_name = f"ILSVRC2012_val_{index * 50 + i + 1:08d}.JPEG"
            if name == "imagenet-c":
                for corruption in FIXTURE_CORRUPTIONS:
                    for severity in FIXTURE_SEVERITIES:
                        folder = dataset_root / corruption / str(severity) / wnid
                        _write(folder / val_name, class_pattern(index, width, height, f"corrupt{severity}", rng))
                        first_folder = first_folder or folder
                continue
            if name == "imagenet-v2":
                folder = dataset_root / str(index)
                file = f"{hashlib.sha1(f'{seed}/{index}/{i}'.encode()).hexdigest()}.jpeg"
                style = "photo"
            elif name == "imagenet-a":
                folder, style = dataset_root / wnid, "adversarial"
                # Real ImageNet-A names hold spaces: "0.000116_digital clock _ digital clock_0.865662.jpg"
                file = f"0.{index:03d}{i:03d}_{names[index]} _ {names[index]}_0.{i + 5}.jpg"
            elif name == "imagenet-r":
                folder, style = dataset_root / wnid, "rendition"
                file = f"{R_STYLES[i % len(R_STYLES)]}_{i}.jpg"
            elif name == "imagenet-sketch":
                folder, style, file = dataset_root / wnid, "sketch", f"sketch_{i}.JPEG"
            else:  # imagenet-cartoon, imagenet-drawing, imagenet-val: one image per val image, named like it
                folder, file = dataset_root / wnid, val_name
                style = {"imagenet-cartoon": "cartoon", "imagenet-drawing": "drawing"}.get(name, "photo")
            _write(folder / file, class_pattern(index, width, height, style, rng))
            first_folder = first_folder or folder
    _strays(dataset_root, first_folder)
    return dataset_root


def make_data_root(root: Path, names=DATASETS, **kwargs) -> Path:
    """Write several fixture trees under one data root (as RIB_DATA_ROOT would hold them); return `root`."""
    for name in names:
        make_dataset_tree(name, root, **kwargs)
    return Path(root)


def truncate_file(path: Path, keep: float = 0.5) -> None:
    """Cut a file to a fraction of its bytes, as an interrupted download would."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(1, int(len(data) * keep))])

