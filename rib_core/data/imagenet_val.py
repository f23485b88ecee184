"""ImageNet-1k val from the user's own ILSVRC2012_img_val.tar: verify it, sort its flat images by class.

The tar needs an ImageNet account, so rib never downloads it. It unpacks flat (50,000 JPEGs); the class of each
image comes from a label file the user supplies, in either common form:
- `<image> <wnid>` per line (valprep.sh's order, "ILSVRC2012_val_00000001.JPEG n01751748"), or
- Kaggle's LOC_val_solution.csv (`ImageId,PredictionString`, the wnid first in PredictionString).
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from rib_core.data.imagenet_classes import imagenet_wnids
from rib_core.data.unpack import _write
from rib_core.errors import DataError

WNID = re.compile(r"^n\d{8}$")
IMAGE_ID = re.compile(r"^(ILSVRC2012_val_\d{8})(\.JPEG)?$", re.IGNORECASE)
NEEDS_ACCOUNT = ("ImageNet-1k val cannot be downloaded without an ImageNet account: download "
                 "ILSVRC2012_img_val.tar from https://image-net.org/download.php yourself, then run "
                 "`rib datasets get imagenet-val --val-tar ILSVRC2012_img_val.tar --val-labels LABELS` where LABELS "
                 "gives each image's class (lines '<image> <wnid>', or Kaggle's LOC_val_solution.csv).")


def read_labels(path: Path) -> dict[str, str]:
    """Image id (without extension) -> wnid."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the label file {path}: {exc}") from exc
    known = set(imagenet_wnids())
    labels = {}
    for number, line in enumerate(lines, 1):
        tokens = re.split(r"[\s,]+", line.strip())
        if len(tokens) < 2 or not IMAGE_ID.match(tokens[0]):
            continue  # header or blank line
        image, wnid = IMAGE_ID.match(tokens[0]).group(1), tokens[1]
        if not WNID.match(wnid) or wnid not in known:
            raise DataError(f"{path}, line {number}: '{wnid}' is no ImageNet-1k class (wnid). The label file must "
                            "pair each validation image with its wnid.")
        labels[image] = wnid
    if not labels:
        raise DataError(f"{path} pairs no validation image with a class: expected lines like "
                        "'ILSVRC2012_val_00000001.JPEG n01751748' or Kaggle's LOC_val_solution.csv.")
    return labels


def sort_val_tar(tar_path: Path, labels: dict[str, str], staging: Path) -> int:
    """Unpack the flat val tar into `staging/<wnid>/<image>`; every image must have a label."""
    count = 0
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = Path(member.name).name
                match = IMAGE_ID.match(name)
                if match is None:
                    continue
                wnid = labels.get(match.group(1))
                if wnid is None:
                    raise DataError(f"{name} is in {tar_path.name} but not in the label file: give the label "
                                    "file of the whole validation set.")
                _write(tar.extractfile(member), staging / wnid / name)
                count += 1
    except (tarfile.TarError, EOFError) as exc:
        raise DataError(f"{tar_path} cannot be read as a tar ({exc}).") from exc
    if count == 0:
        raise DataError(f"{tar_path} holds no ILSVRC2012_val_*.JPEG image: it is not ILSVRC2012_img_val.tar.")
    return count
