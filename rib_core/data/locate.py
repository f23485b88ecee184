"""Where each dataset lives: a data root with conventional sub-folder names, or an explicit path.

The data root is `--data-root`, else `data_root` in the suite, else the environment variable RIB_DATA_ROOT
(decided in rib_core/paths.py: `default_data_root`). Under it, rib looks for a dataset in the suite's name
for it, then in the `folder_names` of its card (rib_core/data/cards.py), in order; `rib datasets` lists them,
and docs/guide.md's dataset table is generated from the cards.

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
from rib_core.paths import DATA_ROOT_ENV, default_data_root

NO_DATA_ROOT = (f"nowhere: no data root is set (--data-root, data_root in the suite, or {DATA_ROOT_ENV}) "
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


def data_root_problem(data_root: str | None, specs, registry) -> str | None:
    """One clear line for a data root that is not a folder, instead of one "not found" per dataset; None when it
    is a folder, unset, or nothing is looked up under it (demo data, absolute paths)."""
    if not data_root:
        return None
    root = Path(data_root).expanduser()
    if root.is_dir():
        return None
    looked_up = [s for s in specs if registry.load("datasets", s.adapter).folder_names
                 and not (s.path and Path(s.path).expanduser().is_absolute())]
    if not looked_up:
        return None
    what = "is a file, not a folder" if root.exists() else "does not exist"
    return (f"the data root '{data_root}' {what} (from --data-root, the suite's data_root or ${DATA_ROOT_ENV}). "
            "Point it at the folder that holds your datasets; 'rib datasets get' downloads them there.")


def open_adapter(adapter_cls, label: str, options: dict | None = None, data_root: str | None = None,
                 path: str | None = None):
    """A dataset's adapter, its folder resolved: the one way `rib bench` and `rib datasets check` open a dataset.

    `path` overrides the search under `data_root`. Adapters without conventional folders
    (no `folder_names`, no path) find their data themselves. `adapter.looked_in` records where rib looked.
    """
    options = dict(options or {})
    root, looked = (None, [])
    if adapter_cls.folder_names or path:
        root, looked = resolve_root(adapter_cls, label, data_root, path)
    adapter = instantiate(adapter_cls, options.get("adapter") or label, label, root, options)  # name before __init__
    adapter.looked_in = looked
    return adapter

