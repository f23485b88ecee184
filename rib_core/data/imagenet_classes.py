"""ImageNet class lists, read from the files timm ships (never retyped here).

timm keeps them under `timm/data/_info/`. They are read as plain text files located with
`importlib.util.find_spec`, so asking for a class list never imports timm (and with it torch).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from rib_core.errors import RibError


@lru_cache(maxsize=None)
def _info_dir() -> Path:
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise RibError("timm is not installed, and rib reads ImageNet's class lists from it. "
                       "Install it: pip install 'timm>=1.0'.")
    for location in spec.submodule_search_locations:
        info = Path(location) / "data" / "_info"
        if (info / "imagenet_synsets.txt").is_file():
            return info
    raise RibError("this timm installation lacks data/_info/imagenet_synsets.txt. Reinstall timm (>=1.0).")


def _lines(filename: str) -> tuple[str, ...]:
    text = (_info_dir() / filename).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=None)
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids, in the standard class-index order."""
    wnids = _lines("imagenet_synsets.txt")
    if len(wnids) != 1000:
        raise RibError(f"timm's imagenet_synsets.txt has {len(wnids)} entries instead of 1000. Reinstall timm.")
    return wnids


@lru_cache(maxsize=None)
def wnid_to_index() -> dict[str, int]:
    return {wnid: i for i, wnid in enumerate(imagenet_wnids())}


@lru_cache(maxsize=None)
def imagenet_names() -> tuple[str, ...]:
    """A readable name per ImageNet-1k class (the first WordNet lemma), in class-index order."""
    lemmas = {}
    for line in _lines("imagenet_synset_to_lemma.txt"):
        wnid, _, lemma = line.partition("\t")
        lemmas[wnid] = lemma.split(",")[0].strip()
    return tuple(lemmas.get(wnid, wnid) for wnid in imagenet_wnids())


def _subset(prefix: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    wnids = _lines(f"{prefix}_synsets.txt")
    indices = tuple(int(i) for i in _lines(f"{prefix}_indices.txt"))
    if len(wnids) != len(indices):
        raise RibError(f"timm's {prefix}_synsets.txt and {prefix}_indices.txt disagree in length. Reinstall timm.")
    return wnids, indices


@lru_cache(maxsize=None)
def imagenet_a_classes() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """ImageNet-A's 200 classes: (wnids, their ImageNet-1k indices), in timm's order."""
    return _subset("imagenet_a")


@lru_cache(maxsize=None)
def imagenet_r_classes() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """ImageNet-R's 200 classes: (wnids, their ImageNet-1k indices), in timm's order."""
    return _subset("imagenet_r")
