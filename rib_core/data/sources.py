"""Where each dataset is published: one table of archives that `rib datasets get` downloads and unpacks.

Every row is data, not code: the archive's URL(s), its size and checksum where they are recorded, its format,
and how its members map onto the folder rib expects (`strip` is the archive's top folder, whose contents
become the dataset folder `folder` under the data root). A third-party dataset adapter declares its own
source the same way, with a class attribute `download_source = Source(...)`.

Provenance of the checksums (none are invented; where none is recorded, the size is checked, else nothing):
- ImageNet-A, -R, -V2 and ILSVRC2012_img_val.tar: SHA-256 and size recorded by TensorFlow Datasets
  (tensorflow_datasets/url_checksums/imagenet_a.txt, imagenet_r.txt, imagenet_v2.txt,
  imagenet2012_corrupted.txt) for the same URLs; the V2 record is for the original S3 copy, which the
  authors moved to Hugging Face.
- ImageNet-C: the MD5s Zenodo publishes for record 2235448.
- ImageNet-Cartoon and -Drawing: the MD5s of Zenodo record 6801109 (as quoted by the Shift Happens
  benchmark's tasks).
- ImageNet-Sketch and ObjectNet: no checksum or size is published; rib records none and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCHIVE_FORMATS = ("tar", "tar.gz", "zip")


@dataclass(frozen=True)
class Archive:
    """One published file."""

    name: str  # file name, also the name of the downloaded file
    urls: tuple[str, ...]  # tried in order; a --mirror replaces their host
    format: str  # tar, tar.gz or zip
    size: int | None = None  # bytes, when recorded
    checksum: str | None = None  # "sha256:<hex>" or "md5:<hex>", when recorded
    checksum_from: str = ""  # who recorded the checksum
    strip: str = ""  # archive folder whose contents become the dataset folder ("" = the archive's root)

    def __post_init__(self):
        if self.format not in ARCHIVE_FORMATS:
            raise ValueError(f"archive {self.name}: format must be one of {ARCHIVE_FORMATS}, not {self.format!r}")
        if self.checksum and self.checksum.split(":", 1)[0] not in ("sha256", "md5"):
            raise ValueError(f"archive {self.name}: checksum must be 'sha256:<hex>' or 'md5:<hex>'")


@dataclass(frozen=True)
class Source:
    """How one dataset is obtained: its archives, unpacked together into `folder` under the data root."""

    dataset: str
    folder: str
    archives: tuple[Archive, ...]
    licence: str = ""
    password_env: str = ""  # environment variable holding a published zip password (ObjectNet)
    password_hint: str = ""  # where the password is published
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def download_size(self) -> int | None:
        sizes = [a.size for a in self.archives]
        return None if any(s is None for s in sizes) else sum(sizes)


BERKELEY = "https://people.eecs.berkeley.edu/~hendrycks"
TFDS = "TensorFlow Datasets url_checksums"


def _imagenet_c(name: str, md5: str) -> Archive:
    return Archive(name, (f"https://zenodo.org/records/2235448/files/{name}",), "tar", checksum=f"md5:{md5}",
                   checksum_from="Zenodo record 2235448")


BUILTIN_SOURCES: dict[str, Source] = {s.dataset: s for s in (
    Source("imagenet-v2", "imagenetv2-matched-frequency-format-val", (
        Archive("imagenetv2-matched-frequency.tar.gz",
                ("https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/imagenetv2-matched-frequency.tar.gz",
                 "https://s3-us-west-2.amazonaws.com/imagenetv2public/imagenetv2-matched-frequency.tar.gz"),
                "tar.gz", size=1_253_959_680,
                checksum="sha256:a32004f9e773279307499059d320336a23ccdc62cb32063da29bae9bd04c122c",
                checksum_from=TFDS + " (S3 copy)", strip="imagenetv2-matched-frequency-format-val"),),
           licence="MIT (https://github.com/modestyachts/ImageNetV2)"),
    Source("imagenet-a", "imagenet-a", (
        Archive("imagenet-a.tar", (f"{BERKELEY}/imagenet-a.tar",), "tar", size=687_552_512,
                checksum="sha256:3bb3632277e6ba6392ea64c02ddbf4dd2266c9caffd6bc09c9656d28f012589e",
                checksum_from=TFDS, strip="imagenet-a"),),
           licence="MIT (https://github.com/hendrycks/natural-adv-examples)"),
    Source("imagenet-r", "imagenet-r", (
        Archive("imagenet-r.tar", (f"{BERKELEY}/imagenet-r.tar",), "tar", size=2_191_079_936,
                checksum="sha256:18c6bf493b39a0d975d48e587437f562caab9c52ae6327dcfa9dd8eb54aa1b52",
                checksum_from=TFDS, strip="imagenet-r"),),
           licence="MIT (https://github.com/hendrycks/imagenet-r)"),
    Source("imagenet-sketch", "imagenet-sketch", (
        Archive("ImageNet-Sketch.zip",
                ("https://huggingface.co/datasets/songweig/imagenet_sketch/resolve/main/data/ImageNet-Sketch.zip",),
                "zip", strip="sketch"),),
           licence="MIT (https://github.com/HaohanWang/ImageNet-Sketch)",
           notes=("no checksum or size is published: only the unpacked image count is checked",)),
    Source("imagenet-cartoon", "imagenet-cartoon", (
        Archive("imagenet-cartoon.tar.gz", ("https://zenodo.org/records/6801109/files/imagenet-cartoon.tar.gz",),
                "tar.gz", checksum="md5:a4987ee6efda553299419f47e59a7274", checksum_from="Zenodo record 6801109",
                strip="imagenet-cartoon"),),
           licence="CC BY 4.0"),
    Source("imagenet-drawing", "imagenet-drawing", (
        Archive("imagenet-drawing.tar.gz", ("https://zenodo.org/records/6801109/files/imagenet-drawing.tar.gz",),
                "tar.gz", checksum="md5:3fb1206b6e3190d0159e5dc01c0f97ab", checksum_from="Zenodo record 6801109",
                strip="imagenet-drawing"),),
           licence="CC BY 4.0"),
    Source("imagenet-c", "imagenet-c", (
        _imagenet_c("blur.tar", "2d8e81fdd8e07fef67b9334fa635e45c"),
        _imagenet_c("digital.tar", "89157860d7b10d5797849337ca2e5c03"),
        _imagenet_c("noise.tar", "e80562d7f6c3f8834afb1ecf27252745"),
        _imagenet_c("weather.tar", "33ffea4db4d93fe4a428c40a6ce0c25d")),
           licence="CC BY 4.0",
           notes=("sizes are not recorded; the README gives about 7, 7, 21 and 12 GB",)),
    Source("objectnet", "objectnet-1.0", (
        Archive("objectnet-1.0.zip", ("https://objectnet.dev/downloads/objectnet-1.0.zip",), "zip",
                strip="objectnet-1.0"),),
           licence="ObjectNet licence (https://objectnet.dev/download.html): test set only, never train on it",
           password_env="RIB_OBJECTNET_PASSWORD",
           password_hint="the password shown on https://objectnet.dev/download.html after accepting its licence",
           notes=("no checksum or size is published",)),
)}

# ImageNet-1k val needs an ImageNet account: `rib datasets get imagenet-val --from FILE` verifies and sorts it.
IMAGENET_VAL_TAR = Archive("ILSVRC2012_img_val.tar", ("https://image-net.org/download.php",), "tar",
                           size=6_744_924_160,
                           checksum="sha256:c7e06a6c0baccf06d8dbeb6577d71efff84673a5dbdd50633ab44f8ea0456ae0",
                           checksum_from=TFDS)


def source_of(name: str, adapter_cls=None) -> Source | None:
    """The source of a dataset: its adapter's own `download_source` first, else the built-in table."""
    declared = getattr(adapter_cls, "download_source", None)
    if isinstance(declared, Source):
        return declared
    return BUILTIN_SOURCES.get(name)
