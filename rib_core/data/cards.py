"""One card per built-in dataset: everything rib knows about it as data (timm's PretrainedCfg is the model).

A card holds what the dataset is (description, class map, the source images it shares with others), where it
lives (the folder names tried under the data root, in order), what a complete copy holds (published image and
class counts, the side of its image files), and how it is obtained (its published archives with sizes and
checksums, the layout they unpack to, licence, whether an account or a password is needed).

Everything that says something about a built-in dataset reads its card: its registration
(rib_core/builtins.py), its adapter's class attributes (`class ImageNetA(ImageNetSubset,
card=CARDS["imagenet-a"])`, see `FolderAdapter.__init_subclass__`), `rib datasets` (the cards), `rib datasets
check` (counts, folders, what to do when missing), `rib datasets get` and `rib datasets sources` (the archives),
and docs/datasets.md, generated from the cards (`python -m rib_core.data.card_docs --write`). Adapters keep only
behaviour: which folder holds which class, layout checks, ImageNet-C's averaging, ObjectNet's mapping.

Provenance of the checksums (none are invented; where none is recorded, the size is checked, else nothing):
- ImageNet-A, -R, -V2 and ILSVRC2012_img_val.tar: SHA-256 and size recorded by TensorFlow Datasets
  (tensorflow_datasets/url_checksums/imagenet_a.txt, imagenet_r.txt, imagenet_v2.txt,
  imagenet2012_corrupted.txt) for the same URLs; the V2 record is for the original S3 copy, which the
  authors moved to Hugging Face.
- ImageNet-C: the MD5s Zenodo publishes for record 2235448.
- ImageNet-Cartoon and -Drawing: the MD5s of Zenodo record 6801109 (as quoted by the Shift Happens
  benchmark's tasks).
- ImageNet-Sketch and ObjectNet: no checksum or size is published; rib records none and says so.

Plain data, no imports beyond the standard library: `rib list` and `rib datasets` read it without torch or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rib_core.data.sources import Archive, Source

#: The source images of ImageNet-1k val, which ImageNet-C, -Cartoon and -Drawing are renditions of
#: (rib_core/data/source_split.py splits them by source image under eval_images = "held-out-sources").
IMAGENET_VAL_SOURCES = "imagenet-1k-val"
D = "rib_core.data"
BERKELEY = "https://people.eecs.berkeley.edu/~hendrycks"
TFDS = "TensorFlow Datasets url_checksums"


@dataclass(frozen=True)
class DatasetCard:
    """One built-in dataset. The fields named in ADAPTER_FACTS become class attributes of its adapter.

    (A suite's dataset entry, with its label, path and options, is rib_core.suite.DatasetSpec.)
    """

    name: str  # the registered name, e.g. "imagenet-a"
    target: str  # the adapter, "module:Class"
    description: str  # one line for `rib list datasets`
    #: Sub-folder names under the data root where it is conventionally unpacked, in the order they are tried; the
    #: first is where `rib datasets get` unpacks it.
    folder_names: tuple[str, ...]
    expected_images: int | None  # published size (None: depends on the options, as ImageNet-C's)
    expected_classes: int | None
    class_map: str  # which classes it is scored on, and how its labels reach ImageNet-1k's logits
    source_hint: str  # where to get it by hand, shown when it is missing
    archives: tuple[Archive, ...] = ()  # the published files `rib datasets get` downloads (or verifies)
    licence: str = ""
    #: The archive cannot be downloaded: the user brings it (ImageNet needs an account).
    needs_account: bool = False
    password_env: str = ""  # environment variable holding a published zip password (ObjectNet)
    password_hint: str = ""  # where the password is published
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The source images it is a rendition of, shared with other datasets (rib_core/data/source_split.py).
    source_images: str | None = None
    #: Side of its image files when they all share one (ImageNet-C: 224); decides cache = "auto".
    image_size: int | None = None

    ADAPTER_FACTS = ("folder_names", "expected_images", "expected_classes", "source_hint", "source_images",
                     "image_size")

    def adapter_facts(self) -> dict:
        """The class attributes an adapter takes from its card."""
        return {name: getattr(self, name) for name in self.ADAPTER_FACTS}

    @property
    def source(self) -> Source | None:
        """How `rib datasets get` obtains it: its archives, unpacked into the first of its folder names."""
        if not self.archives:
            return None
        return Source(self.name, self.folder_names[0], self.archives, licence=self.licence,
                      password_env=self.password_env, password_hint=self.password_hint, notes=self.notes,
                      needs_account=self.needs_account)


def _imagenet_c(name: str, md5: str) -> Archive:
    return Archive(name, (f"https://zenodo.org/records/2235448/files/{name}",), "tar", checksum=f"md5:{md5}",
                   checksum_from="Zenodo record 2235448")


IMAGENET_VAL_TAR = Archive("ILSVRC2012_img_val.tar", ("https://image-net.org/download.php",), "tar",
                           size=6_744_924_160,
                           checksum="sha256:c7e06a6c0baccf06d8dbeb6577d71efff84673a5dbdd50633ab44f8ea0456ae0",
                           checksum_from=TFDS)
ALL_1K = "all 1000 ImageNet-1k classes"

_CARDS = (
    DatasetCard(
        "imagenet-v2", f"{D}.imagenet_variants:ImageNetV2", "ImageNet-V2 matched-frequency (10k images, 1000 classes)",
        ("imagenetv2-matched-frequency-format-val", "imagenetv2-matched-frequency", "imagenet-v2", "imagenetv2",
         "ImageNetV2-matched-frequency"),
        10_000, 1000, ALL_1K + " (folders 0 ... 999 are class indices)",
        "ImageNet-V2 matched-frequency: https://huggingface.co/datasets/vaishaal/ImageNetV2 "
        "(imagenetv2-matched-frequency.tar.gz); unpack it so that the folder holds 0/ ... 999/",
        archives=(Archive(
            "imagenetv2-matched-frequency.tar.gz",
            ("https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/imagenetv2-matched-frequency.tar.gz",
             "https://s3-us-west-2.amazonaws.com/imagenetv2public/imagenetv2-matched-frequency.tar.gz"),
            "tar.gz", size=1_253_959_680,
            checksum="sha256:a32004f9e773279307499059d320336a23ccdc62cb32063da29bae9bd04c122c",
            checksum_from=TFDS + " (S3 copy)", strip="imagenetv2-matched-frequency-format-val"),),
        licence="MIT (https://github.com/modestyachts/ImageNetV2)"),
    DatasetCard(
        "imagenet-a", f"{D}.imagenet_variants:ImageNetA",
        "ImageNet-A natural adversarial examples (7.5k images, 200 classes)",
        ("imagenet-a", "imagenet_a", "ImageNet-A"),
        7_500, 200, "200 ImageNet-1k classes: the logits are masked to them (timm's imagenet_a_indices)",
        "ImageNet-A: https://github.com/hendrycks/natural-adv-examples "
        "(imagenet-a.tar, unpacks to imagenet-a/<wnid>/*.jpg)",
        archives=(Archive("imagenet-a.tar", (f"{BERKELEY}/imagenet-a.tar",), "tar", size=687_552_512,
                          checksum="sha256:3bb3632277e6ba6392ea64c02ddbf4dd2266c9caffd6bc09c9656d28f012589e",
                          checksum_from=TFDS, strip="imagenet-a"),),
        licence="MIT (https://github.com/hendrycks/natural-adv-examples)"),
    DatasetCard(
        "imagenet-r", f"{D}.imagenet_variants:ImageNetR", "ImageNet-R renditions (30k images, 200 classes)",
        ("imagenet-r", "imagenet_r", "ImageNet-R"),
        30_000, 200, "200 ImageNet-1k classes: the logits are masked to them (timm's imagenet_r_indices)",
        "ImageNet-R: https://github.com/hendrycks/imagenet-r (imagenet-r.tar, unpacks to imagenet-r/<wnid>/*.jpg)",
        archives=(Archive("imagenet-r.tar", (f"{BERKELEY}/imagenet-r.tar",), "tar", size=2_191_079_936,
                          checksum="sha256:18c6bf493b39a0d975d48e587437f562caab9c52ae6327dcfa9dd8eb54aa1b52",
                          checksum_from=TFDS, strip="imagenet-r"),),
        licence="MIT (https://github.com/hendrycks/imagenet-r)"),
    DatasetCard(
        "imagenet-sketch", f"{D}.imagenet_variants:ImageNetSketch", "ImageNet-Sketch (50.9k images, 1000 classes)",
        ("imagenet-sketch", "sketch", "imagenet_sketch", "ImageNet-Sketch", "imagenet-sketch/sketch"),
        50_889, 1000, ALL_1K + " (wnid folders)",
        "ImageNet-Sketch: https://github.com/HaohanWang/ImageNet-Sketch (ImageNet-Sketch.zip, "
        "unpacks to sketch/<wnid>/*.JPEG)",
        archives=(Archive("ImageNet-Sketch.zip",
                          ("https://huggingface.co/datasets/songweig/imagenet_sketch/resolve/main/data/ImageNet-Sketch.zip",),
                          "zip", strip="sketch"),),
        licence="MIT (https://github.com/HaohanWang/ImageNet-Sketch)",
        notes=("no checksum or size is published: only the unpacked image count is checked",)),
    DatasetCard(
        "imagenet-cartoon", f"{D}.imagenet_variants:ImageNetCartoon", "ImageNet-Cartoon (1000 classes)",
        ("imagenet-cartoon", "imagenet_cartoon", "ImageNet-Cartoon"),
        50_000, 1000, ALL_1K + " (wnid folders)",  # one image per ImageNet-1k validation image
        "ImageNet-Cartoon: https://zenodo.org/records/6801109 (imagenet-cartoon.tar.gz, "
        "unpacks to imagenet-cartoon/<wnid>/*)",
        archives=(Archive("imagenet-cartoon.tar.gz", ("https://zenodo.org/records/6801109/files/imagenet-cartoon.tar.gz",),
                          "tar.gz", checksum="md5:a4987ee6efda553299419f47e59a7274",
                          checksum_from="Zenodo record 6801109", strip="imagenet-cartoon"),),
        licence="CC BY 4.0", source_images=IMAGENET_VAL_SOURCES),  # named like the val images
    DatasetCard(
        "imagenet-drawing", f"{D}.imagenet_variants:ImageNetDrawing", "ImageNet-Drawing (1000 classes)",
        ("imagenet-drawing", "imagenet_drawing", "ImageNet-Drawing"),
        50_000, 1000, ALL_1K + " (wnid folders)",  # one image per ImageNet-1k validation image
        "ImageNet-Drawing: https://zenodo.org/records/6801109 (imagenet-drawing.tar.gz, "
        "unpacks to imagenet-drawing/<wnid>/*)",
        archives=(Archive("imagenet-drawing.tar.gz", ("https://zenodo.org/records/6801109/files/imagenet-drawing.tar.gz",),
                          "tar.gz", checksum="md5:3fb1206b6e3190d0159e5dc01c0f97ab",
                          checksum_from="Zenodo record 6801109", strip="imagenet-drawing"),),
        licence="CC BY 4.0", source_images=IMAGENET_VAL_SOURCES),  # named like the val images
    DatasetCard(
        "imagenet-c", f"{D}.imagenet_c:ImageNetC", "ImageNet-C: 15 corruptions x 5 severities (mean over both)",
        ("imagenet-c", "imagenet_c", "ImageNet-C"),
        None, 1000,  # images: 50,000 per selected corruption and severity, set by the adapter
        ALL_1K + " (wnid folders); accuracy is the mean over corruptions and severities",
        "ImageNet-C: https://zenodo.org/records/2235448 (one tar per corruption family: blur.tar, digital.tar, "
        "noise.tar, weather.tar); unpack all into one folder so that it holds <corruption>/<1..5>/<wnid>/*.JPEG",
        archives=(_imagenet_c("blur.tar", "2d8e81fdd8e07fef67b9334fa635e45c"),
                  _imagenet_c("digital.tar", "89157860d7b10d5797849337ca2e5c03"),
                  _imagenet_c("noise.tar", "e80562d7f6c3f8834afb1ecf27252745"),
                  _imagenet_c("weather.tar", "33ffea4db4d93fe4a428c40a6ce0c25d")),
        licence="CC BY 4.0", notes=("sizes are not recorded; the README gives about 7, 7, 21 and 12 GB",),
        source_images=IMAGENET_VAL_SOURCES,  # corrupted val images, named like them
        image_size=224),  # the released JPEGs are 224 x 224: streamed, not cached, with cache = "auto"
    DatasetCard(
        "objectnet", f"{D}.objectnet:ObjectNet", "ObjectNet 1.0, the 113 classes overlapping ImageNet-1k",
        ("objectnet-1.0", "objectnet", "ObjectNet", "objectnet_1.0"),
        18_574, 113,  # the images of the 113 classes that overlap ImageNet-1k (of 50,000)
        "113 ObjectNet classes, each scored by the max over the ImageNet-1k logits it maps to (its mappings/*.json)",
        "ObjectNet 1.0: https://objectnet.dev/download.html (objectnet-1.0.zip, password-protected; "
        "unpacks to objectnet-1.0/images/<folder>/*.png and objectnet-1.0/mappings/*.json)",
        archives=(Archive("objectnet-1.0.zip", ("https://objectnet.dev/downloads/objectnet-1.0.zip",), "zip",
                          strip="objectnet-1.0"),),
        licence="ObjectNet licence (https://objectnet.dev/download.html): test set only, never train on it",
        password_env="RIB_OBJECTNET_PASSWORD",
        password_hint="the password shown on https://objectnet.dev/download.html after accepting its licence",
        notes=("no checksum or size is published",)),
    DatasetCard(
        "imagenet-val", f"{D}.imagenet_variants:ImageNetVal", "ImageNet-1k validation set (the reference set)",
        ("imagenet/val", "imagenet-val", "imagenet_val", "ILSVRC2012/val", "imagenet1k/val",
         "ILSVRC/Data/CLS-LOC/val", "val"),
        50_000, 1000, ALL_1K + " (wnid folders)",
        "ImageNet-1k validation set: https://image-net.org/download.php (ILSVRC2012_img_val.tar); "
        "sort it into val/<wnid>/ILSVRC2012_val_*.JPEG folders, e.g. with the valprep.sh script "
        "from https://github.com/soumith/imagenetloader.torch",
        archives=(IMAGENET_VAL_TAR,), needs_account=True,
        licence="ImageNet terms of access (https://image-net.org/download.php): non-commercial research",
        notes=("needs an ImageNet account: give your own file with --val-tar and --val-labels",),
        source_images=IMAGENET_VAL_SOURCES),  # named like the val images
)

#: name -> card, in registration order.
CARDS: dict[str, DatasetCard] = {card.name: card for card in _CARDS}


def source_of(name: str, adapter_cls=None) -> Source | None:
    """How a dataset is obtained: its adapter's own `download_source` first (a plugin's), else its card's."""
    declared = getattr(adapter_cls, "download_source", None)
    if isinstance(declared, Source):
        return declared
    card = CARDS.get(name)
    return card.source if card is not None else None
