"""The dataset-adapter contract.

An adapter reads one dataset exactly as it is distributed. It says which images there are and their labels
(`samples`), which classes it has and how a backbone's logits map onto them (`class_map`), how to open an image
(`open_image`), how per-image correctness becomes the dataset's accuracy (`accuracy`, e.g. ImageNet-C's mean over
severities then corruptions), and whether the data on disk is complete (`check`).

Labels are indices into the adapter's own class list, never into the backbone's label space: the class map does
the translation, so a 200-class dataset is scored on its 200 classes and ObjectNet on its 113.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class Sample:
    path: str  # relative to the dataset root, with "/" separators
    label: int  # index into the adapter's class list
    group: str = ""  # sub-population for accuracy(): ImageNet-C uses "<corruption>/<severity>"
    # Bootstrap resampling unit: samples sharing a non-empty cluster are not independent draws (ImageNet-C:
    # the 75 corrupted versions of one source image share its file name). "" = the sample is its own cluster.
    cluster: str = ""


@dataclass(frozen=True)
class ClassMap:
    """Maps a backbone's logits (its label space) onto a dataset's K classes.

    `groups[k]` lists the backbone classes that make up class k. A length-1 group is a plain index subset
    (ImageNet-A/R); longer groups are max-pooled (ObjectNet: a class scores the max logit of its IN-1k classes).
    """

    label_space: str  # must equal the backbone's label_space, e.g. "imagenet-1k"
    names: tuple[str, ...]  # K class names (wnids or readable names)
    groups: tuple[tuple[int, ...], ...]  # K tuples of backbone class indices

    @property
    def num_classes(self) -> int:
        return len(self.groups)

    @property
    def is_subset(self) -> bool:
        return all(len(g) == 1 for g in self.groups)

    def digest(self) -> str:
        return hashlib.sha256(repr((self.label_space, self.groups)).encode()).hexdigest()[:16]

    def project(self, logits):
        """(B, C_backbone) logits -> (B, K) logits on the dataset's classes (differentiable)."""
        return self.projector(logits.device)(logits)

    def projector(self, device):
        """`project` with its index tensor built once on `device`: no host-to-device copy per batch."""
        import torch

        if self.is_subset:
            index = [g[0] for g in self.groups]
            identity = index == list(range(len(index)))
            index_t = torch.tensor(index, device=device)
            return lambda logits: (logits if identity and logits.shape[1] == len(index)
                                   else logits.index_select(1, index_t))
        # Max-pool groups (ObjectNet): pad each group to the same width by repeating its first class.
        width = max(len(g) for g in self.groups)
        padded = torch.tensor([list(g) + [g[0]] * (width - len(g)) for g in self.groups], device=device).view(-1)
        return lambda logits: logits[:, padded].view(logits.shape[0], len(self.groups), width).amax(dim=2)


@dataclass
class CheckResult:
    """What `rib datasets check` reports for one dataset."""

    dataset: str
    found: bool
    root: str | None
    looked_in: list[str] = field(default_factory=list)
    images: int = 0
    classes: int = 0
    expected_images: int | None = None
    expected_classes: int | None = None
    # Side of the dataset's image files when they all share one (ImageNet-C: 224-px JPEGs), else None. With the
    # suite's cache = "auto", datasets whose files are no larger than the model input are decoded on the fly:
    # cheap to decode, and caching them would cost as much disk as the decoded pixels (565 GB for ImageNet-C).
    image_size: int | None = None
    missing_classes: list[str] = field(default_factory=list)
    unexpected_classes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, with what to do
    verdict: str = ""  # "ok", "partial" or "missing"

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"ok": self.ok}


class DatasetAdapter:
    """Base class for dataset adapters. Subclasses set the class attributes and implement the methods.

    Instantiated as `Adapter(label, root, options)`: `label` is the name the suite uses, `root` the resolved
    dataset folder (None if not found: `check()` then explains), `options` the suite entry's other keys (as
    written; `self.params` holds the declared ones, checked, with their defaults). rib sets `self.name`, the name
    the adapter was registered (or, for a pattern, used) under, before `__init__` runs.
    """

    #: The name this adapter was registered (or used) under (set by rib; "" when instantiated directly).
    name: str = ""
    #: Sub-folder names under the data root where this dataset is conventionally unpacked, most common first.
    folder_names: tuple[str, ...] = ()
    #: Published size, for `rib datasets check` (None when it varies).
    expected_images: int | None = None
    expected_classes: int | None = None
    #: The source images this dataset is a rendition of, shared with other datasets ("imagenet-1k-val" for
    #: ImageNet-C, -Cartoon, -Drawing and the val set itself: their file names carry the val id), or None.
    #: eval_images = "held-out-sources" splits such datasets by source image (rib_core/data/source_split.py).
    source_images: str | None = None
    #: Where to get it, shown when it is missing.
    source_hint: str = ""
    #: Options this adapter accepts in the suite (besides the generic ones: path, max_images, adapter, name, ...),
    #: declared with their type, default and meaning: {"severities": Option(list, items=int, minimum=1,
    #: maximum=5, help="...")}. Declaring a new option is one line here; every declared option the suite sets is
    #: part of the dataset's identity.
    accepted_options: dict = {}

    @classmethod
    def declared_options(cls) -> dict:
        from rib_core.options import declared_options

        return declared_options(cls)

    def __init__(self, label: str, root: Path | None, options: dict | None = None):
        from rib_core.options import option_values

        self.label = label
        self.root = Path(root) if root is not None else None
        self.options = dict(options or {})
        declared = self.declared_options()
        self.params = option_values(declared, {k: v for k, v in self.options.items() if k in declared},
                                    where=f"dataset '{label}'")

    # -- what subclasses provide ---------------------------------------------------------------------------
    def class_map(self) -> ClassMap:
        raise NotImplementedError

    def samples(self) -> list[Sample]:
        """Every usable image, sorted by path (deterministic), with labels in class_map() order."""
        raise NotImplementedError

    def open_image(self, path: str):
        """Open one sample as an RGB PIL image (adapters that crop or fix images override this; adapters whose
        samples are not files, e.g. members of an archive, read them here). An exception in `DECODE_ERRORS`
        (rib_core/data/decode.py: OSError, ValueError, ...) makes the image unreadable: skipped and counted (with
        `strict_images`: the run stops, naming it); any other exception is a bug and fails the cell."""
        from PIL import Image

        with Image.open(self.root / path) as im:
            return im.convert("RGB")

    def stat_sample(self, path: str) -> os.stat_result:
        """What tells a changed image from the one cached: an `os.stat_result` whose size and modification time
        change when the sample's bytes do. The default stats `root / path`; an adapter whose samples are not files
        (archive members, keys of a store) returns the stat of the file that holds them."""
        return os.stat(self.root / path)

    def accuracy(self, correct, groups) -> tuple[float, dict]:
        """Per-image correctness (bool array) and groups -> (accuracy in %, details for the record).

        The accuracy must be rib_core.data.accuracy.weighted_accuracy (the bootstrap and reports weigh images
        the same way); an adapter overrides this to add details, as ImageNet-C adds per-corruption accuracies.
        """
        from rib_core.data.accuracy import weighted_accuracy

        return weighted_accuracy(correct, groups), {}

    def check(self, deep: bool = False) -> CheckResult:
        """Is the data complete? `deep=False` (before every run) counts images and classes; `deep=True`
        (`rib datasets check --deep`) also opens every image to find unreadable ones.

        This default suits data that is not a folder tree (`FolderAdapter` also inspects the folders): a
        `samples()` that raises DataError (saying what is missing and what to do) makes the verdict "missing";
        counts that differ from `expected_images` / `expected_classes`, or unreadable images, make it "partial"."""
        from rib_core.errors import DataError

        result = CheckResult(self.label, found=False, root=str(self.root) if self.root is not None else None,
                             looked_in=list(getattr(self, "looked_in", [])), expected_images=self.expected_images,
                             expected_classes=self.expected_classes)
        try:
            samples = self.samples()
        except DataError as exc:
            result.problems.append(str(exc))
            result.verdict = "missing"
            return result
        result.found, result.images, result.classes = True, len(samples), len({s.label for s in samples})
        if deep:
            from rib_core.data.decode import DECODE_ERRORS

            for sample in samples:
                try:
                    self.open_image(sample.path)
                except DECODE_ERRORS:
                    result.unreadable.append(sample.path)
        for what, found, expected in (("images", result.images, self.expected_images),
                                      ("classes", result.classes, self.expected_classes)):
            if expected is not None and found != expected:
                result.problems.append(f"{found} {what} where {expected} are published; {self.source_hint}".rstrip("; "))
        if result.unreadable:
            result.problems.append(f"{len(result.unreadable)} unreadable image(s), e.g. {result.unreadable[0]}")
        result.verdict = "missing" if not samples else "partial" if result.problems else "ok"
        if not samples:
            result.problems.append("no images found")
        return result

    @classmethod
    def misplaced_hint(cls, data_root: Path | None, root: Path | None) -> str | None:
        """When the data is not found or holds no image: a line naming a folder that is there but is something
        else (another variant of the dataset), or None."""
        return None

    def identity(self) -> str:
        """What, besides the image list, determines this dataset's results (name + options that matter)."""
        relevant = {k: self.options[k] for k in sorted(self.options) if k in self.declared_options()}
        return f"{type(self).__module__}.{type(self).__name__}:{relevant}"


def cluster_index(samples) -> np.ndarray:
    """Bootstrap cluster id per sample of a dataset, numbered in sample order (same for every evaluation of it)."""
    import numpy as np

    ids: dict[str, int] = {}
    return np.array([ids.setdefault(s.cluster or f"\0{n}", len(ids)) for n, s in enumerate(samples)], dtype=np.int64)


def use_cache(setting, adapter, input_size: int) -> bool:
    """Whether to build the decoded-image cache for a dataset: `setting` is True, False or "auto"."""
    if setting == "auto":
        size = getattr(adapter, "image_size", None)
        return size is None or size > input_size
    return bool(setting)
