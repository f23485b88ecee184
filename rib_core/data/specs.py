"""The built-in ImageNet-RIB datasets as data: one row per dataset, read by its registration and its adapter.

`rib_core.builtins.register_datasets` registers every row (name, adapter target, description); each adapter class
takes its pure-data facts from its row (`class ImageNetA(ImageNetSubset, facts=BUILTIN_DATASETS["imagenet-a"])`, see
`FolderAdapter.__init_subclass__`), and keeps only behaviour: which folder holds which class, layout checks,
ImageNet-C's averaging, ObjectNet's mapping. The folder table in `rib_core/data/locate.py`'s docstring and the
dataset table in docs/guide.md are checked against these rows (tests/test_dataset_specs.py).

Plain data, no imports beyond the standard library: `rib list` reads it without loading torch or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

# The source images of ImageNet-1k val: equal to rib_core.data.source_split.IMAGENET_VAL_SOURCES (that module
# imports numpy; a test checks the two agree).
IMAGENET_VAL_SOURCES = "imagenet-1k-val"
D = "rib_core.data"


@dataclass(frozen=True)
class BuiltinDataset:
    """One built-in dataset. The fields after `description` become class attributes of the adapter.

    (A suite's dataset entry, with its label, path and options, is rib_core.config.DatasetSpec.)
    """

    name: str  # the registered name, e.g. "imagenet-a"
    target: str  # the adapter, "module:Class"
    description: str  # one line for `rib list datasets`
    #: Sub-folder names under the data root where it is conventionally unpacked, in the order they are tried.
    folder_names: tuple[str, ...]
    expected_images: int | None  # published size (None: depends on the options, as ImageNet-C's)
    expected_classes: int | None
    source_hint: str  # where to get it, shown when it is missing
    #: The source images it is a rendition of, shared with other datasets (rib_core/data/source_split.py).
    source_images: str | None = None
    #: Side of its image files when they all share one (ImageNet-C: 224); decides cache = "auto".
    image_size: int | None = None

    ADAPTER_FACTS = ("folder_names", "expected_images", "expected_classes", "source_hint", "source_images",
                     "image_size")

    def adapter_facts(self) -> dict:
        """The class attributes an adapter takes from this row."""
        return {name: getattr(self, name) for name in self.ADAPTER_FACTS}


_ROWS = (
    BuiltinDataset(
        "imagenet-v2", f"{D}.imagenet_variants:ImageNetV2", "ImageNet-V2 matched-frequency (10k images, 1000 classes)",
        ("imagenetv2-matched-frequency-format-val", "imagenetv2-matched-frequency", "imagenet-v2", "imagenetv2",
         "ImageNetV2-matched-frequency"),
        10_000, 1000,
        "ImageNet-V2 matched-frequency: https://huggingface.co/datasets/vaishaal/ImageNetV2 "
        "(imagenetv2-matched-frequency.tar.gz); unpack it so that the folder holds 0/ ... 999/"),
    BuiltinDataset(
        "imagenet-a", f"{D}.imagenet_variants:ImageNetA",
        "ImageNet-A natural adversarial examples (7.5k images, 200 classes)",
        ("imagenet-a", "imagenet_a", "ImageNet-A"),
        7_500, 200,
        "ImageNet-A: https://github.com/hendrycks/natural-adv-examples "
        "(imagenet-a.tar, unpacks to imagenet-a/<wnid>/*.jpg)"),
    BuiltinDataset(
        "imagenet-r", f"{D}.imagenet_variants:ImageNetR", "ImageNet-R renditions (30k images, 200 classes)",
        ("imagenet-r", "imagenet_r", "ImageNet-R"),
        30_000, 200,
        "ImageNet-R: https://github.com/hendrycks/imagenet-r (imagenet-r.tar, unpacks to imagenet-r/<wnid>/*.jpg)"),
    BuiltinDataset(
        "imagenet-sketch", f"{D}.imagenet_variants:ImageNetSketch", "ImageNet-Sketch (50.9k images, 1000 classes)",
        ("imagenet-sketch", "sketch", "imagenet_sketch", "ImageNet-Sketch", "imagenet-sketch/sketch"),
        50_889, 1000,
        "ImageNet-Sketch: https://github.com/HaohanWang/ImageNet-Sketch (ImageNet-Sketch.zip, "
        "unpacks to sketch/<wnid>/*.JPEG)"),
    BuiltinDataset(
        "imagenet-cartoon", f"{D}.imagenet_variants:ImageNetCartoon", "ImageNet-Cartoon (1000 classes)",
        ("imagenet-cartoon", "imagenet_cartoon", "ImageNet-Cartoon"),
        50_000, 1000,  # one per ImageNet-1k validation image
        "ImageNet-Cartoon: https://zenodo.org/records/6801109 (imagenet-cartoon.tar.gz, "
        "unpacks to imagenet-cartoon/<wnid>/*)",
        source_images=IMAGENET_VAL_SOURCES),  # named like the val images
    BuiltinDataset(
        "imagenet-drawing", f"{D}.imagenet_variants:ImageNetDrawing", "ImageNet-Drawing (1000 classes)",
        ("imagenet-drawing", "imagenet_drawing", "ImageNet-Drawing"),
        50_000, 1000,  # one per ImageNet-1k validation image
        "ImageNet-Drawing: https://zenodo.org/records/6801109 (imagenet-drawing.tar.gz, "
        "unpacks to imagenet-drawing/<wnid>/*)",
        source_images=IMAGENET_VAL_SOURCES),  # named like the val images
    BuiltinDataset(
        "imagenet-c", f"{D}.imagenet_c:ImageNetC", "ImageNet-C: 15 corruptions x 5 severities (mean over both)",
        ("imagenet-c", "imagenet_c", "ImageNet-C"),
        None, 1000,  # images: 50,000 per selected corruption and severity, set by the adapter
        "ImageNet-C: https://zenodo.org/records/2235448 (one tar per corruption family: blur.tar, digital.tar, "
        "noise.tar, weather.tar); unpack all into one folder so that it holds <corruption>/<1..5>/<wnid>/*.JPEG",
        source_images=IMAGENET_VAL_SOURCES,  # corrupted val images, named like them
        image_size=224),  # the released JPEGs are 224 x 224: streamed, not cached, with cache = "auto"
    BuiltinDataset(
        "objectnet", f"{D}.objectnet:ObjectNet", "ObjectNet 1.0, the 113 classes overlapping ImageNet-1k",
        ("objectnet-1.0", "objectnet", "ObjectNet", "objectnet_1.0"),
        18_574, 113,  # the images of the 113 classes that overlap ImageNet-1k (of 50,000)
        "ObjectNet 1.0: https://objectnet.dev/download.html (objectnet-1.0.zip, password-protected; "
        "unpacks to objectnet-1.0/images/<folder>/*.png and objectnet-1.0/mappings/*.json)"),
    BuiltinDataset(
        "imagenet-val", f"{D}.imagenet_variants:ImageNetVal", "ImageNet-1k validation set (the reference set)",
        ("imagenet/val", "imagenet-val", "imagenet_val", "ILSVRC2012/val", "imagenet1k/val",
         "ILSVRC/Data/CLS-LOC/val", "val"),
        50_000, 1000,
        "ImageNet-1k validation set: https://image-net.org/download.php (ILSVRC2012_img_val.tar); "
        "sort it into val/<wnid>/ILSVRC2012_val_*.JPEG folders, e.g. with the valprep.sh script "
        "from https://github.com/soumith/imagenetloader.torch",
        source_images=IMAGENET_VAL_SOURCES),  # named like the val images
)

#: name -> row, in registration order.
BUILTIN_DATASETS: dict[str, BuiltinDataset] = {row.name: row for row in _ROWS}
