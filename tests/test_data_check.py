"""`rib datasets check`: completeness, unreadable files, manifests."""

import hashlib
import json
import shutil

import pytest

from rib_core.data.check import check_adapter, compare_manifest, write_manifest
from rib_core.data.fixtures import make_dataset_tree, truncate_file
from rib_core.data.imagefolder import ImageFolder
from rib_core.data.imagenet_variants import ImageNetA, ImageNetSketch, ImageNetVal
from rib_core.data.locate import open_adapter
from rib_core.errors import DataError


class TinySketch(ImageNetSketch):
    """ImageNet-Sketch as if its published size were the fixture's: 3 classes x 2 images."""

    expected_images = 6
    expected_classes = 3

    def class_folders(self):
        return {w: i for w, i in super().class_folders().items() if i in (6, 11, 13)}


def test_complete_tree_is_ok(tmp_path):
    make_dataset_tree("imagenet-sketch", tmp_path)
    result = open_adapter(TinySketch, "imagenet-sketch", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "ok" and result.ok and result.found
    assert (result.images, result.classes) == (6, 3)
    assert result.missing_classes == result.unexpected_classes == result.unreadable == []


def test_removed_class_and_truncated_jpeg_are_both_reported(tmp_path):
    root = make_dataset_tree("imagenet-sketch", tmp_path)
    shutil.rmtree(root / "n01531178")
    truncate_file(root / "n01498041" / "sketch_1.JPEG")
    result = open_adapter(TinySketch, "imagenet-sketch", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "partial" and not result.ok
    assert result.missing_classes == ["n01531178"]
    assert result.unreadable == ["n01498041/sketch_1.JPEG"]
    assert (result.images, result.classes) == (4, 2)
    text = "\n".join(result.problems)
    assert "n01531178" in text and "n01498041/sketch_1.JPEG" in text and "truncat" in text
    assert "4 images found, 6 published" in text and "github.com/HaohanWang/ImageNet-Sketch" in text
    as_json = json.loads(json.dumps(result.as_dict()))  # what `rib datasets check --json` prints
    assert as_json["missing_classes"] == ["n01531178"] and as_json["ok"] is False


def test_shallow_check_counts_without_decoding(tmp_path):
    root = make_dataset_tree("imagenet-sketch", tmp_path)
    (root / "n01498041" / "sketch_0.JPEG").write_text("not an image")
    adapter = open_adapter(TinySketch, "imagenet-sketch", {}, str(tmp_path))
    assert check_adapter(adapter, deep=False).unreadable == []
    assert check_adapter(adapter, deep=True).unreadable == ["n01498041/sketch_0.JPEG"]


def test_missing_dataset_says_where_it_looked_and_where_to_get_it(tmp_path):
    result = open_adapter(ImageNetA, "imagenet-a", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "missing" and not result.found and result.root is None
    assert result.looked_in[0] == str(tmp_path / "imagenet-a")
    text = "\n".join(result.problems)
    assert str(tmp_path / "imagenet-a") in text and "natural-adv-examples" in text and "path" in text


def test_published_counts_flag_a_fixture_as_partial(tmp_path):
    make_dataset_tree("imagenet-a", tmp_path)
    result = open_adapter(ImageNetA, "imagenet-a", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "partial" and result.expected_images == 7500 and result.expected_classes == 200
    assert len(result.missing_classes) == 197


def test_unexpected_folders_are_reported_but_harmless(tmp_path):
    root = make_dataset_tree("imagenet-sketch", tmp_path)
    (root / "extras").mkdir()
    result = open_adapter(TinySketch, "imagenet-sketch", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "ok" and result.unexpected_classes == ["extras"]
    assert any("extras" in p and "ignored" in p for p in result.problems)


def test_flat_validation_folder_is_explained(tmp_path):
    val = tmp_path / "imagenet" / "val"
    val.mkdir(parents=True)
    make_dataset_tree("imagenet-val", tmp_path / "elsewhere", n_classes=1, per_class=1)
    src = next((tmp_path / "elsewhere" / "imagenet" / "val").rglob("*.JPEG"))
    shutil.copy(src, val / src.name)
    result = open_adapter(ImageNetVal, "imagenet-val", {}, str(tmp_path)).check(deep=True)
    assert result.verdict == "missing" and any("valprep" in p for p in result.problems)


def test_imagefolder_has_no_missing_classes(tmp_path):
    root = make_dataset_tree("imagenet-sketch", tmp_path)
    result = open_adapter(ImageFolder, "mine", {}, path=str(root)).check(deep=True)
    assert result.verdict == "ok" and result.missing_classes == [] and result.images == 6


def test_manifest_round_trip_and_differences(tmp_path):
    make_dataset_tree("objectnet", tmp_path / "data", n_classes=2, per_class=2)
    adapter = open_adapter(__import__("rib_core.data.objectnet", fromlist=["ObjectNet"]).ObjectNet,
                           "objectnet", {}, str(tmp_path / "data"))
    manifest = tmp_path / "objectnet.manifest.json"
    assert write_manifest(adapter, manifest) == 3 + 4  # the three mapping files and four images
    assert compare_manifest(adapter, manifest) == []

    root = adapter.root
    paths = [s.path for s in adapter.samples()]
    data = bytearray((root / paths[0]).read_bytes())
    data[-20] ^= 0xFF  # same size, different bytes
    (root / paths[0]).write_bytes(bytes(data))
    (root / paths[1]).unlink()
    (root / paths[2]).write_bytes((root / paths[2]).read_bytes() + b"extra")
    (root / paths[3]).rename(root / paths[3].replace(".png", "_renamed.png"))

    fresh = open_adapter(type(adapter), "objectnet", {}, str(tmp_path / "data"))
    differences = compare_manifest(fresh, manifest)
    assert f"differs: {paths[0]} (same size, different SHA-256)" in differences
    assert f"missing here: {paths[1]}" in differences
    assert any(d.startswith(f"differs: {paths[2]} (size") for d in differences)
    assert f"missing here: {paths[3]}" in differences
    assert f"not in manifest: {paths[3].replace('.png', '_renamed.png')}" in differences
    assert len(differences) == 5

    recorded = json.loads(manifest.read_text())
    assert recorded["format"] == "rib-data-manifest/1"
    rows = {path: (size, digest) for path, size, digest in recorded["files"]}
    mapping = root / "mappings" / "imagenet_to_labels.json"
    assert rows["mappings/imagenet_to_labels.json"] == (mapping.stat().st_size,
                                                       hashlib.sha256(mapping.read_bytes()).hexdigest())


def test_unreadable_manifest_is_a_data_error(tmp_path):
    make_dataset_tree("imagenet-a", tmp_path)
    adapter = open_adapter(ImageNetA, "imagenet-a", {}, str(tmp_path))
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(DataError, match="rib datasets check --digest"):
        compare_manifest(adapter, tmp_path / "m.json")
