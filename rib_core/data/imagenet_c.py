"""ImageNet-C: `<corruption>/<severity 1..5>/<wnid>/*.JPEG`, 15 corruptions x 5 severities of the val set.

Accuracy is the mean over severities, then over corruptions (Hendrycks & Dietterich's protocol), with the
per-corruption and per-severity accuracies kept in the record. A suite may select a subset with the options
`corruptions = [...]` and `severities = [...]`; the four "extra" corruptions of the authors' second release
can be selected by name when present.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from rib_core.data.accuracy import weighted_accuracy
from rib_core.data.folders import Inventory, list_subfolders
from rib_core.data.imagenet_variants import WnidFolders
from rib_core.data.imagenet_classes import imagenet_wnids
from rib_core.data.cards import CARDS
from rib_core.options import Option

CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
               "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
               "jpeg_compression")
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
SEVERITIES = (1, 2, 3, 4, 5)
IMAGES_PER_SEVERITY = 50_000


def _corruptions(chosen) -> tuple[str, ...]:
    """The chosen corruptions in canonical order, without duplicates."""
    chosen = [chosen] if isinstance(chosen, str) else chosen
    known = CORRUPTIONS + EXTRA_CORRUPTIONS
    unknown = [c for c in chosen if c not in known]
    if unknown or not chosen:
        raise ValueError(f"unknown corruption(s) {unknown or '[] (empty list)'}. Choose among: {', '.join(known)}")
    return tuple(c for c in known if c in chosen)


def _severities(chosen) -> tuple[int, ...]:
    chosen = [chosen] if isinstance(chosen, int) else chosen
    if not chosen:
        raise ValueError("must list at least one severity from 1 to 5")
    return tuple(sorted(set(chosen)))


class ImageNetC(WnidFolders, card=CARDS["imagenet-c"]):
    # Folder names, class count, source images, image size (224: streamed, not cached, with cache = "auto") and
    # where to get it: its row of rib_core/data/specs.py. The image count depends on the selection (__init__).
    accepted_options = {
        "corruptions": Option((list, str), items=str, default=list(CORRUPTIONS), check=_corruptions,
                              help="the corruptions to read: the benchmark's 15 (default), or also speckle_noise, "
                                   "gaussian_blur, spatter, saturate"),
        "severities": Option((list, int), items=int, minimum=1, maximum=5, default=list(SEVERITIES),
                             check=_severities, help="the severity levels to read"),
    }

    def __init__(self, label, root, options=None):
        super().__init__(label, root, options)
        self.corruptions = tuple(self.params["corruptions"])
        self.severities = tuple(self.params["severities"])
        self.expected_images = IMAGES_PER_SEVERITY * len(self.corruptions) * len(self.severities)

    def identity(self) -> str:
        # Canonical selection, so ["fog", "snow"] and ["snow", "fog"] share cells and caches.
        return f"{type(self).__module__}.{type(self).__name__}:{self.corruptions}x{self.severities}"

    def class_folders(self) -> dict[str, int]:
        wnids = imagenet_wnids()
        return {f"{c}/{s}/{wnid}": i for c in self.corruptions for s in self.severities
                for i, wnid in enumerate(wnids)}

    def group_of(self, folder: str) -> str:
        corruption, severity, _ = folder.split("/")
        return f"{corruption}/{severity}"

    def cluster_of(self, path: str) -> str:
        # <corruption>/<severity>/<wnid>/<file>: the 15 x 5 versions of one ImageNet-val image share its file
        # name, so they are resampled together.
        return path.rsplit("/", 1)[-1]

    def unexpected_folders(self) -> list[str]:
        root = self.require_root()
        known = set(CORRUPTIONS + EXTRA_CORRUPTIONS)
        unexpected = [c for c in list_subfolders(root) if c not in known]
        wnids = set(imagenet_wnids())
        for c in self.corruptions:
            for severity in list_subfolders(root / c):
                if severity not in {str(s) for s in SEVERITIES}:
                    unexpected.append(f"{c}/{severity}")
            for s in self.severities:
                unexpected += [f"{c}/{s}/{w}" for w in list_subfolders(root / c / str(s)) if w not in wnids]
        return unexpected

    def inventory(self) -> Inventory:
        # A missing severity folder would list 1000 class folders: name the severity folder once instead.
        present = self.present_class_folders()
        root = self.require_root()
        missing = []
        for c in self.corruptions:
            for s in self.severities:
                if not (root / c / str(s)).is_dir():
                    missing.append(f"{c}/{s}/ (all 1000 classes)")
                    continue
                missing += [f"{c}/{s}/{w}" for w in imagenet_wnids() if f"{c}/{s}/{w}" not in present]
        return Inventory(missing=missing, unexpected=self.unexpected_folders())

    def accuracy(self, correct, groups) -> tuple[float, dict]:
        """Mean over severities within each corruption, then mean over corruptions."""
        correct = np.asarray(correct, dtype=bool)
        groups = np.asarray(groups, dtype=object)
        if correct.size == 0:
            return float("nan"), {}
        per_group = {}
        for group in sorted(set(groups.tolist())):
            per_group[group] = 100.0 * float(correct[groups == group].mean())
        by_corruption, by_severity = defaultdict(list), defaultdict(list)
        for group, acc in per_group.items():
            corruption, severity = group.split("/")
            by_corruption[corruption].append(acc)
            by_severity[severity].append(acc)
        per_corruption = {c: float(np.mean(v)) for c, v in by_corruption.items()}
        per_severity = {s: float(np.mean(v)) for s, v in sorted(by_severity.items())}
        # The same mean as the per-corruption means' mean, computed as every dataset's accuracy is.
        overall = weighted_accuracy(correct, groups.tolist())
        return overall, {"per_corruption": per_corruption, "per_severity": per_severity, "per_group": per_group}

