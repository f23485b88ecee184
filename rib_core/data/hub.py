"""Datasets read straight from webdataset shards on the Hugging Face Hub (`hub:<dataset>` in a suite).

CLIP_benchmark publishes ImageNet-1k val, V2, Sketch, A, R and ObjectNet as `clip-benchmark/wds_*` dataset
repositories: `test/<n>.tar` shards whose samples are `<key>.<image format>` + `<key>.cls` (the class index
in the repository's `classnames.txt` order). rib fetches them through `huggingface_hub` and its cache (the
optional extra `rib-core[hub]`; `HF_HUB_OFFLINE=1` reads the cache only) and reads images from the tars
without unpacking them.

Before relying on a repository, rib checks that its `classnames.txt` is, line by line, the class order of
rib's own adapter (CLIP's ImageNet class names from open_clip, at the adapter's class indices; ObjectNet's class
names): a `.cls` index is then the adapter's label, and the adapter's class map (subsets, ObjectNet's max
pooling) applies unchanged. Any difference refuses the repository. The shards hold images as CLIP_benchmark
stored them; `check` names the formats found, and a format other than the original's (JPEG; PNG for ObjectNet)
means re-encoded pixels.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import os
import tarfile
from functools import cached_property
from pathlib import Path

from rib_core.data.base import CheckResult, DatasetAdapter, Sample
from rib_core.errors import DataError, UsageError

HUB_REPOS = {
    "imagenet-val": "clip-benchmark/wds_imagenet1k",
    "imagenet-v2": "clip-benchmark/wds_imagenetv2",
    "imagenet-sketch": "clip-benchmark/wds_imagenet_sketch",
    "imagenet-a": "clip-benchmark/wds_imagenet-a",
    "imagenet-r": "clip-benchmark/wds_imagenet-r",
    "objectnet": "clip-benchmark/wds_objectnet",
}
ORIGINAL_FORMAT = {"objectnet": {"png"}}  # the others were published as JPEG
IMAGE_SUFFIXES = ("webp", "jpg", "jpeg", "png")
PREFIX = "hub:"


def snapshot(repo: str) -> Path:
    """The repository's shards and class names, from the Hugging Face cache (downloaded when online)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise UsageError("reading datasets from the Hugging Face Hub needs huggingface_hub: "
                         "pip install 'rib-core[hub]'.") from None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        folder = snapshot_download(repo, repo_type="dataset", allow_patterns=["test/*.tar", "classnames.txt"],
                                   cache_dir=os.environ.get("HF_HUB_CACHE") or None, local_files_only=offline)
    except Exception as exc:  # huggingface_hub raises many kinds (offline, HTTP, missing repo)
        hint = " HF_HUB_OFFLINE=1 reads only the cache: fetch it once online." if offline else ""
        raise DataError(f"Hugging Face dataset {repo} is not available ({type(exc).__name__}: {exc}).{hint}") from exc
    return Path(folder)


def clip_imagenet_names() -> tuple[str, ...]:
    """open_clip's ImageNet class names (CLIP's, which CLIP_benchmark uses), read without importing torch."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("checking a Hub dataset's class order needs open_clip's class names: "
                         "pip install 'rib-core[hub]'.")
    source = (Path(list(spec.submodule_search_locations)[0]) / "zero_shot_metadata.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "IMAGENET_CLASSNAMES":
            return tuple(ast.literal_eval(node.value))
    raise UsageError("this open_clip lacks IMAGENET_CLASSNAMES; install open_clip_torch>=2.20.")


class HubDataset(DatasetAdapter):
    """`hub:<dataset>`: one of HUB_REPOS, labelled and scored exactly as rib's `<dataset>` adapter."""

    source_hint = "Hugging Face Hub (clip-benchmark/wds_*), through huggingface_hub's cache"

    def __init__(self, label, root, options=None):
        import importlib

        from rib_core.data.cards import CARDS

        super().__init__(label, root, options)
        name = str(self.options.get("adapter") or label)
        self.base_name = name[len(PREFIX):] if name.startswith(PREFIX) else name
        if self.base_name not in HUB_REPOS:
            raise UsageError(f"'{name}': no Hub source for '{self.base_name}'. Known: "
                             f"{', '.join(PREFIX + n for n in HUB_REPOS)}.")
        self.repo = HUB_REPOS[self.base_name]
        # The built-in adapter of the same dataset (every Hub source is one), from its row: no registry needed.
        module, _, attr = CARDS[self.base_name].target.partition(":")
        self.base = getattr(importlib.import_module(module), attr)(label, None, {})
        self.expected_images = self.base.expected_images
        self.expected_classes = self.base.expected_classes

    def identity(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}:{self.repo}"

    def class_map(self):
        return self.base.class_map()

    def expected_class_names(self) -> list[str]:
        class_map = self.class_map()
        if self.base_name == "objectnet":
            return list(class_map.names)
        clip = clip_imagenet_names()
        return [clip[group[0]] for group in class_map.groups]

    @cached_property
    def folder(self) -> Path:
        folder = self.root if self.root is not None else snapshot(self.repo)
        listed = [line.strip() for line in (folder / "classnames.txt").read_text(encoding="utf-8").splitlines()
                  if line.strip()] if (folder / "classnames.txt").is_file() else []
        expected = self.expected_class_names()
        if [n.lower() for n in listed] != [n.lower() for n in expected]:
            first = next((i for i, (a, b) in enumerate(zip(listed, expected)) if a.lower() != b.lower()),
                         min(len(listed), len(expected)))
            raise DataError(f"{self.repo}: its classnames.txt is not rib's '{self.base_name}' class order "
                            f"({len(listed)} names, {len(expected)} expected; first difference at line {first + 1}). "
                            "Its labels cannot be trusted: use the published archive (`rib datasets get "
                            f"{self.base_name}`).")
        self.root = folder
        return folder

    @cached_property
    def index(self) -> dict[str, tuple[str, int, int, int]]:
        """'<shard>/<member>' -> (shard, data offset, size, label), for every image of the split."""
        folder, n_classes = self.folder, len(self.class_map().names)
        index = {}
        for shard in sorted((folder / "test").glob("*.tar")):
            images, labels = {}, {}
            with tarfile.open(shard) as tar:
                for member in tar:
                    key, _, suffix = member.name.rpartition(".")
                    if member.isfile() and suffix.lower() in IMAGE_SUFFIXES:
                        images[key] = member
                    elif member.isfile() and suffix == "cls":
                        labels[key] = int(tar.extractfile(member).read().decode().strip())
            for key, member in images.items():
                if key not in labels or not 0 <= labels[key] < n_classes:
                    raise DataError(f"{shard}: sample '{key}' has no valid class index. Delete the cached shard "
                                    "and fetch it again.")
                relative = f"test/{shard.name}/{member.name}"
                index[relative] = (shard.name, member.offset_data, member.size, labels[key])
        return index

    def samples(self) -> list[Sample]:
        return sorted((Sample(path, entry[3], "") for path, entry in self.index.items()), key=lambda s: s.path)

    def stat_sample(self, path: str) -> os.stat_result:
        """The shard's stat stands for its images' (the image cache keys on size and modification time)."""
        return os.stat(self.folder / "test" / self.index[path][0])

    def read_bytes(self, path: str) -> bytes:
        shard, offset, size, _ = self.index[path]
        with open(self.folder / "test" / shard, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def open_image(self, path: str):
        from PIL import Image

        with Image.open(io.BytesIO(self.read_bytes(path))) as im:
            image = im.convert("RGB")
        if self.base_name == "objectnet":  # the same border crop as the folder adapter
            from rib_core.data.objectnet import BORDER

            w, h = image.size
            if w > 2 * BORDER and h > 2 * BORDER:
                image = image.crop((BORDER, BORDER, w - BORDER, h - BORDER))
        return image

    def check(self, deep: bool = False, workers: int = 0, progress=None) -> CheckResult:
        result = CheckResult(self.label, False, None, expected_images=self.expected_images,
                             expected_classes=self.expected_classes)
        try:
            samples = self.samples()
        except DataError as exc:
            result.verdict = "missing"
            result.problems.append(str(exc))
            return result
        result.found, result.root = True, str(self.folder)
        result.images, result.classes = len(samples), len({s.label for s in samples})
        formats = sorted({s.path.rpartition(".")[2].lower() for s in samples})
        original = ORIGINAL_FORMAT.get(self.base_name, {"jpg", "jpeg"})
        result.problems.append(f"images stored as {', '.join(formats)}" + (
            "" if set(formats) <= original else f": re-encoded by the publisher, pixels differ from the original "
                                                f"{'/'.join(sorted(original))} files"))
        if deep:
            from PIL import Image

            for s in samples:
                try:
                    with Image.open(io.BytesIO(self.read_bytes(s.path))) as im:
                        im.load()
                except Exception as exc:  # any decoding failure means unreadable
                    result.unreadable.append(s.path)
                    result.problems.append(f"{s.path}: {type(exc).__name__}")
        partial = bool(result.unreadable) or any(
            e is not None and e != got for e, got in ((self.expected_images, result.images),
                                                      (self.expected_classes, result.classes)))
        if partial:
            result.problems.append(f"{result.images} images in {result.classes} classes; "
                                   f"{self.expected_images} in {self.expected_classes} published.")
        result.verdict = "partial" if partial else "ok"
        return result
