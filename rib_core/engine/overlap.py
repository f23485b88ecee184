"""Datasets of one suite that hold the same images, found before any work.

Fine-tuning on D_i and evaluating on D_j is a robustness measurement only if D_j's images are not D_i's: two
entries of the same folder (or a dataset and the reference set) give an RI of memorised images (+50 where the
truth is about 0). So `overlap_problems` compares every pair of datasets (the reference included):

- the same files: image files whose resolved paths coincide (the same folder under two names, one folder inside
  the other, a symlink to it). Found from the file lists, no file is read;
- copies: image files at the same relative path in two different folders with the same bytes. Only a sample of
  the common relative paths (CHECKED_COPIES of them) is read and hashed: cheap, and a copied dataset keeps its
  relative paths. (Datasets rendered from the same source images, like ImageNet-C and val, have different bytes
  and are not overlaps: their split by source image is eval_images = "held-out-sources".)

An overlap refuses the run (a problem line: exit 2, before any work; a dry run lists it) unless the suite sets
`allow_overlap = true`; then it is a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

from rib_core.hashing import sha256_file

CHECKED_COPIES = 16  # common relative paths read per pair of folders
SHOWN = 3  # example files named in a message


def check_overlap(datasets: list, allow: bool, problems: list[str], warnings: list[str]) -> None:
    """Add a line to `problems` (to `warnings` when `allow`) for each pair of the prepared datasets (downstream
    and reference; None entries are skipped) that hold the same images."""
    listed = [(ds, _root(ds)) for ds in datasets if ds is not None and ds.samples and _root(ds) is not None]
    found = []
    for i, (a, root_a) in enumerate(listed):
        for b, root_b in listed[i + 1:]:
            what = _same_files(a, root_a, b, root_b) or _copies(a, root_a, b, root_b)
            if what:
                found.append(f"datasets '{a.label}' and '{b.label}' hold the same images ({what}). Fine-tuning on "
                             "one and evaluating on the other would measure memorised images, not robustness")
    if allow:
        warnings += [f"{line} (allowed: allow_overlap = true)." for line in found]
    else:
        problems += [f"{line}. Give each entry its own images, or set allow_overlap = true in the suite if you "
                     "mean it." for line in found]


def _root(ds) -> Path | None:
    root = getattr(ds.adapter, "root", None)
    return Path(os.path.realpath(root)) if root is not None else None


def _files(ds, root: Path) -> dict[str, str]:
    """Resolved path -> the sample's own path, for every image of `ds`."""
    return {os.path.normpath(os.path.realpath(root / s.path)): s.path for s in ds.samples}


def _nested(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def _same_files(a, root_a: Path, b, root_b: Path) -> str | None:
    if not _nested(root_a, root_b) and not _has_links(a, root_a) and not _has_links(b, root_b):
        return None  # disjoint folders without links: no file can be in both
    files_a, files_b = _files(a, root_a), _files(b, root_b)
    shared = sorted(set(files_a) & set(files_b))
    if not shared:
        return None
    where = f"the folder {root_a}" if root_a == root_b else f"{root_a} and {root_b}"
    examples = ", ".join(files_b[p] for p in shared[:SHOWN])
    return (f"{len(shared)} of the {len(files_b)} files of '{b.label}' are files of '{a.label}': {where}; "
            f"e.g. {examples}")


def _has_links(ds, root: Path) -> bool:
    """Whether any of the dataset's first files is reached through a symbolic link (then resolved paths decide)."""
    return any(os.path.islink(root / s.path) for s in ds.samples[:CHECKED_COPIES])


def _copies(a, root_a: Path, b, root_b: Path) -> str | None:
    if _nested(root_a, root_b):
        return None  # same files were looked for above
    common = sorted({s.path for s in a.samples} & {s.path for s in b.samples})
    if not common:
        return None
    step = max(1, len(common) // CHECKED_COPIES)
    same = []
    for path in common[::step][:CHECKED_COPIES]:
        try:
            if os.path.getsize(root_a / path) == os.path.getsize(root_b / path) and \
                    sha256_file(root_a / path) == sha256_file(root_b / path):
                same.append(path)
        except OSError:
            continue  # not a plain file here (an archive member, a Hub shard): nothing to compare
    if not same:
        return None
    return (f"{root_b} holds copies of files of {root_a}: {len(same)} of {min(len(common), CHECKED_COPIES)} files "
            f"at the same place in both have the same bytes, e.g. {', '.join(same[:SHOWN])}")
