"""Where each dataset lives: a data root with conventional sub-folder names, or an explicit path.

The data root is `data_root` in the suite, else the environment variable RIB_DATA_ROOT. Under it, rib looks
for a dataset in these folders, in this order (the suite's name for the dataset is tried first; the names are the
`folder_names` of each dataset's row in rib_core/data/specs.py, and tests/test_dataset_specs.py keeps this
table equal to them):

| dataset | folders tried under the data root |
| --- | --- |
| imagenet-v2 | imagenetv2-matched-frequency-format-val, imagenetv2-matched-frequency, imagenet-v2, imagenetv2, ImageNetV2-matched-frequency |
| imagenet-a | imagenet-a, imagenet_a, ImageNet-A |
| imagenet-r | imagenet-r, imagenet_r, ImageNet-R |
| imagenet-sketch | imagenet-sketch, sketch, imagenet_sketch, ImageNet-Sketch, imagenet-sketch/sketch |
| imagenet-cartoon | imagenet-cartoon, imagenet_cartoon, ImageNet-Cartoon |
| imagenet-drawing | imagenet-drawing, imagenet_drawing, ImageNet-Drawing |
| imagenet-c | imagenet-c, imagenet_c, ImageNet-C |
| objectnet | objectnet-1.0, objectnet, ObjectNet, objectnet_1.0 |
| imagenet-val | imagenet/val, imagenet-val, imagenet_val, ILSVRC2012/val, imagenet1k/val, ILSVRC/Data/CLS-LOC/val, val |
| imagefolder | (none: give `path`) |

A folder that holds nothing but one sub-folder with a conventional name is entered, so
`imagenet-v2/imagenetv2-matched-frequency-format-val/` and `objectnet/objectnet-1.0/` are found as well.

A dataset's `path` in the suite overrides all of this: an absolute path is used as it is, a relative one is
looked up under the data root, then under the current directory. When `path` is given, nothing else is tried,
so a typo is reported instead of silently reading another copy.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from rib_core.contract import instantiate

DATA_ROOT_ENV = "RIB_DATA_ROOT"
NO_DATA_ROOT = (f"nowhere: no data root is set (data_root in the suite, or {DATA_ROOT_ENV}) "
                "and the dataset has no path")


def _plain_relative(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in name


def _unwrap(folder: Path, names: set[str]) -> Path:
    """Enter a folder whose only content is one sub-folder with a conventional name (tar inside a folder)."""
    for _ in range(2):
        try:
            subfolders = [e for e in os.scandir(folder) if not e.name.startswith(".") and e.is_dir()]
        except OSError:
            return folder
        if len(subfolders) == 1 and subfolders[0].name in names | {folder.name}:
            folder = folder / subfolders[0].name
        else:
            return folder
    return folder


def default_data_root(*given: str | None) -> str | None:
    """The data root: the first of `given` that is set (--data-root, the suite's `data_root`), else
    $RIB_DATA_ROOT, else None. The one place that decides it."""
    return next((g for g in given if g), None) or os.environ.get(DATA_ROOT_ENV) or None


def resolve_root(adapter_cls, label: str, data_root: str | None, path: str | None) -> tuple[Path | None, list[str]]:
    """Find a dataset's folder. Returns (the folder or None, every place looked, in order)."""
    looked: list[str] = []
    data_root = default_data_root(data_root)
    base = Path(data_root).expanduser() if data_root else None

    if path:
        given = Path(path).expanduser()
        candidates = [given] if given.is_absolute() else ([base / given] if base else []) + [Path.cwd() / given]
        for candidate in candidates:
            looked.append(str(candidate))
            if candidate.is_dir():
                return candidate, looked
        return None, looked

    if base is None:
        return None, [NO_DATA_ROOT]

    names = [label] if _plain_relative(label) else []
    names += [n for n in adapter_cls.folder_names if n not in names]
    for name in names:
        candidate = base / name
        looked.append(str(candidate))
        if candidate.is_dir():
            return _unwrap(candidate, {PurePosixPath(n).name for n in names}), looked
    return None, looked


def check_data_root(data_root: str | None, specs, registry) -> None:
    """One clear error for a data root that does not exist, instead of one "not found" per dataset."""
    if not data_root or Path(data_root).expanduser().is_dir():
        return
    looked_up = [s for s in specs if registry.load("datasets", s.adapter).folder_names
                 and not (s.path and Path(s.path).expanduser().is_absolute())]
    if not looked_up:
        return  # nothing is looked up under it (demo data, absolute paths)
    from rib_core.errors import DataError

    raise DataError(f"the data root '{data_root}' does not exist (from --data-root, the suite's data_root or "
                    f"${DATA_ROOT_ENV}). Point it at the folder that holds your datasets.")


def open_adapter(adapter_cls, label: str, options: dict | None = None, data_root: str | None = None,
                 path: str | None = None):
    """A dataset's adapter, its folder resolved: the one way `rib bench` and `rib datasets check` open a dataset.

    `path` (else `options["path"]`) overrides the search under `data_root`. Adapters without conventional folders
    (no `folder_names`, no path) find their data themselves. `adapter.looked_in` records where rib looked.
    """
    options = dict(options or {})
    path = path or options.get("path")
    root, looked = (None, [])
    if adapter_cls.folder_names or path:
        root, looked = resolve_root(adapter_cls, label, data_root, path)
    adapter = instantiate(adapter_cls, options.get("adapter") or label, label, root, options)  # name before __init__
    adapter.looked_in = looked
    return adapter

