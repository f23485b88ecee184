"""A dataset whose samples are not files: PNGs inside one archive, <root>/images.zip, as <class index>/<name>."""
import io
import os
import zipfile

from rib_core.api import ClassMap, DataError, DatasetAdapter, Sample, hookimpl


@hookimpl
def register_datasets(register):
    register("mylab-zip", "zip_dataset:ZipDataset", "ImageNet-labelled PNGs in one zip (folders 0..999)")


class ZipDataset(DatasetAdapter):
    folder_names = ("mylab-zip",)  # found as $RIB_DATA_ROOT/mylab-zip/images.zip

    def members(self) -> list[str]:  # a DataError is how data that is no folder tree says "not found"
        if self.root is None or not (self.root / "images.zip").is_file():
            raise DataError("no images.zip: put it in a folder 'mylab-zip' of the data root (RIB_DATA_ROOT).")
        with zipfile.ZipFile(self.root / "images.zip") as z:
            return sorted(n for n in z.namelist() if n.endswith(".png"))

    def class_map(self) -> ClassMap:  # the classes present, scored on their own logits (like ImageNet-A)
        indices = sorted({int(n.split("/")[0]) for n in self.members()})
        return ClassMap("imagenet-1k", tuple(map(str, indices)), tuple((i,) for i in indices))

    def samples(self) -> list[Sample]:
        position = {int(name): k for k, name in enumerate(self.class_map().names)}
        return [Sample(n, position[int(n.split("/")[0])]) for n in self.members()]

    def open_image(self, path):
        from PIL import Image

        with zipfile.ZipFile(self.root / "images.zip") as z, Image.open(io.BytesIO(z.read(path))) as image:
            return image.convert("RGB")

    def stat_sample(self, path):  # what the image cache keys on: the archive changes when any image does
        return os.stat(self.root / "images.zip")
