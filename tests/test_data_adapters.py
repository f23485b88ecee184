"""Dataset adapters on generated trees in each dataset's distributed layout."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rib_core.data.base import ClassMap, DatasetAdapter
from rib_core.data.fixtures import (DATASETS, FIXTURE_CORRUPTIONS, FIXTURE_SEVERITIES, OBJECTNET_BORDER_COLOUR,
                                    fixture_classes, make_dataset_tree)
from rib_core.data.imagefolder import ImageFolder
from rib_core.data.imagenet_c import ImageNetC
from rib_core.data.imagenet_variants import (ImageNetA, ImageNetCartoon, ImageNetDrawing, ImageNetR,
                                             ImageNetSketch, ImageNetV2, ImageNetVal)
from rib_core.data.locate import open_adapter, resolve_root
from rib_core.data.objectnet import ObjectNet
from rib_core.errors import ConfigError, DataError

torch.set_num_threads(1)

ADAPTERS = {"imagenet-v2": ImageNetV2, "imagenet-a": ImageNetA, "imagenet-r": ImageNetR,
            "imagenet-sketch": ImageNetSketch, "imagenet-cartoon": ImageNetCartoon,
            "imagenet-drawing": ImageNetDrawing, "imagenet-c": ImageNetC, "objectnet": ObjectNet,
            "imagenet-val": ImageNetVal}
C_OPTIONS = {"corruptions": list(FIXTURE_CORRUPTIONS), "severities": list(FIXTURE_SEVERITIES)}
TIMM_INFO = Path(__import__("timm").__file__).parent / "data" / "_info"


def timm_lines(name):
    return (TIMM_INFO / name).read_text().split()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name in DATASETS:
        make_dataset_tree(name, root, n_classes=3, per_class=2)
    return root


def adapter_for(name, data_root, **options):
    if name == "imagenet-c":
        options = {**C_OPTIONS, **options}
    return open_adapter(ADAPTERS[name], name, options, str(data_root))


def test_builtins_targets_are_these_classes():
    from rib_core import builtins

    registered = {}
    builtins.register_datasets(lambda name, target, description="", **kw: registered.__setitem__(name, target))
    for name, cls in ADAPTERS.items():
        assert registered[name] == f"{cls.__module__}:{cls.__name__}"
    assert registered["imagefolder"] == "rib_core.data.imagefolder:ImageFolder"


@pytest.mark.parametrize("name", DATASETS)
def test_counts_classes_and_labels(name, data_root):
    adapter = adapter_for(name, data_root)
    samples = adapter.samples()
    per_source = len(FIXTURE_CORRUPTIONS) * len(FIXTURE_SEVERITIES) if name == "imagenet-c" else 1
    assert len(samples) == 3 * 2 * per_source  # README.txt, .DS_Store and "._" forks are not images
    assert [s.path for s in samples] == sorted(s.path for s in samples)
    class_map = adapter.class_map()
    assert class_map.label_space == "imagenet-1k"
    # Every label's class contains the ImageNet class the fixture drew for that folder.
    drawn = set(fixture_classes(name, 3))
    labelled = {label for label in {s.label for s in samples}}
    assert len(labelled) == 3
    assert {class_map.groups[label][0] for label in labelled} == drawn


def test_known_files_have_known_labels(data_root):
    # ImageNet-V2 folders are class indices: folder "6" is class 6 (stingray, n01498041).
    v2 = adapter_for("imagenet-v2", data_root).samples()
    assert {s.label for s in v2 if s.path.startswith("6/")} == {6}
    # ImageNet-A's label is a position in its 200-class list: n01498041 is its first class.
    a = adapter_for("imagenet-a", data_root)
    stingray = [s for s in a.samples() if s.path.startswith("n01498041/")]
    assert stingray and {s.label for s in stingray} == {0}
    assert " _ " in stingray[0].path  # real ImageNet-A names have spaces
    assert a.class_map().groups[0] == (6,)
    # ImageNet-R's n01498041 (stingray) is its 4th class (index 3) in timm's list.
    r = adapter_for("imagenet-r", data_root)
    assert timm_lines("imagenet_r_synsets.txt")[3] == "n01498041"
    assert {s.label for s in r.samples() if s.path.startswith("n01498041/")} == {3}
    # Sketch/val: the wnid's index in ImageNet-1k (goldfinch, n01531178, is class 11).
    val = adapter_for("imagenet-val", data_root)
    assert {s.label for s in val.samples() if s.path.startswith("n01531178/")} == {11}


@pytest.mark.parametrize("cls, prefix", [(ImageNetA, "imagenet_a"), (ImageNetR, "imagenet_r")])
def test_subset_class_maps_equal_timm_lists(cls, prefix):
    class_map = cls("x", None).class_map()
    indices = [int(i) for i in timm_lines(f"{prefix}_indices.txt")]
    assert class_map.num_classes == 200 and class_map.is_subset
    assert [g[0] for g in class_map.groups] == indices
    assert list(class_map.names) == timm_lines(f"{prefix}_synsets.txt")
    # Independent check: each wnid's position in the 1000-class list is its index.
    all_wnids = timm_lines("imagenet_synsets.txt")
    assert [all_wnids.index(w) for w in class_map.names] == indices
    logits = torch.randn(2, 1000)
    assert torch.equal(class_map.project(logits), logits[:, indices])


def test_full_class_maps_are_identity():
    for cls in (ImageNetV2, ImageNetSketch, ImageNetCartoon, ImageNetDrawing, ImageNetVal):
        class_map = cls("x", None).class_map()
        assert class_map.num_classes == 1000 and list(class_map.names) == timm_lines("imagenet_synsets.txt")
        logits = torch.randn(3, 1000)
        assert class_map.project(logits) is logits


def test_objectnet_class_map_max_pools_by_hand(data_root):
    adapter = adapter_for("objectnet", data_root)
    class_map = adapter.class_map()
    assert class_map.num_classes == 113 and not class_map.is_subset

    mappings = data_root / "objectnet-1.0" / "mappings"
    to_imagenet = json.loads((mappings / "objectnet_to_imagenet_1k.json").read_text())
    index_of = {label: int(i) for i, label in json.loads((mappings / "imagenet_to_labels.json").read_text()).items()}
    logits = torch.randn(4, 1000, generator=torch.Generator().manual_seed(0))
    projected = class_map.project(logits)
    expected = torch.empty(4, 113)
    for k, name in enumerate(sorted(to_imagenet)):
        members = [index_of[label] for label in to_imagenet[name].split("; ")]
        expected[:, k] = torch.stack([logits[:, m] for m in members]).max(dim=0).values
    assert torch.equal(projected, expected)
    # "Alarm clock" is analog clock (409) or digital clock (530): the larger logit wins.
    k = class_map.names.index("Alarm clock")
    assert set(class_map.groups[k]) == {409, 530}
    logits = torch.zeros(1, 1000)
    logits[0, 530] = 5.0
    assert class_map.project(logits)[0, k] == 5.0


def test_objectnet_excludes_unmapped_folders_and_crops_the_border(data_root):
    adapter = adapter_for("objectnet", data_root)
    samples = adapter.samples()
    folders = {s.path.split("/")[1] for s in samples}
    assert folders == {"alarm_clock", "backpack", "banana"}  # air_freshener has no ImageNet class
    assert (data_root / "objectnet-1.0" / "images" / "air_freshener").is_dir()
    assert adapter.class_map().names[samples[0].label] == "Alarm clock"

    from PIL import Image

    raw = np.asarray(Image.open(adapter.root / samples[0].path).convert("RGB"))
    assert tuple(raw[0, 0]) == OBJECTNET_BORDER_COLOUR
    cropped = np.asarray(adapter.open_image(samples[0].path))
    assert cropped.shape == (raw.shape[0] - 4, raw.shape[1] - 4, 3)
    assert np.array_equal(cropped, raw[2:-2, 2:-2])


def test_objectnet_rejects_mapping_paths_escaping_the_root(tmp_path):
    root = make_dataset_tree("objectnet", tmp_path, n_classes=1, per_class=1)
    mapping_file = root / "mappings" / "folder_to_objectnet_label.json"
    mapping = json.loads(mapping_file.read_text())
    mapping["../../etc"] = "Banana"
    mapping_file.write_text(json.dumps(mapping))
    with pytest.raises(DataError, match=r"\.\./\.\./etc"):
        ObjectNet("objectnet", root).samples()


def test_objectnet_falls_back_to_bundled_mappings(tmp_path):
    root = make_dataset_tree("objectnet", tmp_path, n_classes=2, per_class=1)
    for f in (root / "mappings").iterdir():
        f.unlink()
    adapter = ObjectNet("objectnet", root)
    assert len(adapter.samples()) == 2 and adapter.class_map().num_classes == 113
    assert any("bundled" in note for note in adapter.inventory().notes)


def test_imagenet_c_groups_selection_and_accuracy(data_root):
    adapter = adapter_for("imagenet-c", data_root)
    groups = {s.group for s in adapter.samples()}
    assert groups == {f"{c}/{s}" for c in FIXTURE_CORRUPTIONS for s in FIXTURE_SEVERITIES}
    only_fog = adapter_for("imagenet-c", data_root, corruptions=["fog"], severities=[5])
    assert {s.group for s in only_fog.samples()} == {"fog/5"} and len(only_fog.samples()) == 6
    assert only_fog.expected_images == 50_000
    assert ImageNetC("c", None).expected_images == 3_750_000

    # Hand computation: fog 1: 1/2, fog 3: 0/2 -> fog 25%; noise 1: 2/2, noise 3: 1/4 -> noise 62.5%.
    groups = ["fog/1"] * 2 + ["fog/3"] * 2 + ["gaussian_noise/1"] * 2 + ["gaussian_noise/3"] * 4
    correct = [1, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    accuracy, details = adapter.accuracy(np.array(correct, bool), np.array(groups))
    assert accuracy == pytest.approx((25.0 + 62.5) / 2)
    assert details["per_corruption"] == pytest.approx({"fog": 25.0, "gaussian_noise": 62.5})
    assert details["per_severity"] == pytest.approx({"1": 75.0, "3": 12.5})
    assert details["per_group"]["gaussian_noise/3"] == pytest.approx(25.0)


def test_imagenet_c_options_are_validated_and_canonical():
    with pytest.raises(ConfigError, match="unknown corruption.*gausian_noise"):
        ImageNetC("c", None, {"corruptions": ["gausian_noise"]})
    with pytest.raises(ConfigError, match="severities"):
        ImageNetC("c", None, {"severities": [0, 6]})
    a = ImageNetC("c", None, {"corruptions": ["fog", "snow"], "severities": [3, 1]})
    b = ImageNetC("c", None, {"corruptions": ["snow", "fog"], "severities": [1, 3]})
    assert a.identity() == b.identity() != ImageNetC("c", None).identity()
    assert ImageNetC("c", None, {"corruptions": ["speckle_noise"]}).corruptions == ("speckle_noise",)


def test_default_accuracy_is_plain_mean(data_root):
    adapter = adapter_for("imagenet-r", data_root)
    assert adapter.accuracy(np.array([True, False, True, True]), ["", "", "", ""])[0] == pytest.approx(75.0)


def test_imagefolder_wnid_index_and_present_classes(tmp_path):
    wnid_root = make_dataset_tree("imagenet-sketch", tmp_path / "a", n_classes=3, per_class=2)
    (wnid_root / "not_a_class").mkdir()
    adapter = open_adapter(ImageFolder, "mine", {}, path=str(wnid_root))
    assert len(adapter.samples()) == 6 and adapter.class_map().num_classes == 1000
    assert "not_a_class" in adapter.inventory().unexpected

    present = open_adapter(ImageFolder, "mine", {"classes": "present"}, path=str(wnid_root))
    class_map = present.class_map()
    assert [g[0] for g in class_map.groups] == fixture_classes("imagenet-sketch", 3)
    assert sorted({s.label for s in present.samples()}) == [0, 1, 2]

    index_root = make_dataset_tree("imagenet-v2", tmp_path / "b", n_classes=2, per_class=1)
    by_index = open_adapter(ImageFolder, "v2copy", {"labels": "index"}, path=str(index_root))
    assert [s.label for s in by_index.samples()] == [int(s.path.split("/")[0]) for s in by_index.samples()]
    assert open_adapter(ImageFolder, "v2copy", {}, path=str(index_root)).samples() == []  # wnid labels: none


def test_imagefolder_options_are_validated(tmp_path):
    with pytest.raises(DataError, match="Set `path"):
        ImageFolder("mine", None, {}).samples()
    with pytest.raises(ConfigError, match="labels"):
        ImageFolder("mine", tmp_path, {"path": str(tmp_path), "labels": "names"})


def test_symlink_loops_and_hidden_entries_are_harmless(tmp_path):
    root = make_dataset_tree("imagenet-r", tmp_path, n_classes=1, per_class=2)
    folder = next(p for p in root.iterdir() if p.is_dir())
    os.symlink(folder, folder / "loop.jpg")  # a directory link with an image name
    os.symlink(folder / "self.jpg", folder / "self.jpg")  # a link to itself
    os.symlink(root, root / "n01443537")  # a class folder that points back at the root
    (root / ".hidden").mkdir()
    adapter = ImageNetR("imagenet-r", root)
    assert len([s for s in adapter.samples() if s.path.startswith(folder.name)]) == 2


def test_missing_root_raises_with_what_to_do():
    with pytest.raises(DataError, match="rib datasets check"):
        ImageNetA("imagenet-a", None).samples()


# -- locating datasets -------------------------------------------------------------------------------------

def test_resolve_root_conventional_names_env_and_override(tmp_path, monkeypatch):
    sketch = make_dataset_tree("imagenet-sketch", tmp_path, n_classes=1, per_class=1)  # tmp_path/sketch
    root, looked = resolve_root(ImageNetSketch, "imagenet-sketch", str(tmp_path), None)
    assert root == sketch and looked[-1] == str(sketch) and str(tmp_path / "imagenet-sketch") in looked

    monkeypatch.setenv("RIB_DATA_ROOT", str(tmp_path))
    assert resolve_root(ImageNetSketch, "imagenet-sketch", None, None)[0] == sketch

    assert resolve_root(ImageNetSketch, "imagenet-sketch", None, str(sketch))[0] == sketch
    assert resolve_root(ImageNetSketch, "imagenet-sketch", None, "sketch")[0] == sketch  # relative to data root
    missing, looked = resolve_root(ImageNetSketch, "imagenet-sketch", None, "skech")
    assert missing is None and looked[0] == str(tmp_path / "skech")  # an explicit path never falls back

    monkeypatch.delenv("RIB_DATA_ROOT")
    missing, looked = resolve_root(ImageNetA, "imagenet-a", None, None)
    assert missing is None and "RIB_DATA_ROOT" in looked[0]


def test_resolve_root_enters_a_wrapping_folder_and_tries_the_suite_label(tmp_path):
    make_dataset_tree("imagenet-v2", tmp_path / "imagenet-v2", n_classes=1, per_class=1)
    root, _ = resolve_root(ImageNetV2, "imagenet-v2", str(tmp_path), None)
    assert root == tmp_path / "imagenet-v2" / "imagenetv2-matched-frequency-format-val"

    make_dataset_tree("imagenet-r", tmp_path / "x", n_classes=1, per_class=1)
    (tmp_path / "x" / "imagenet-r").rename(tmp_path / "my-renditions")
    assert resolve_root(ImageNetR, "my-renditions", str(tmp_path), None)[0] == tmp_path / "my-renditions"
    assert resolve_root(ImageNetR, "../escape", str(tmp_path), None)[0] is None


def test_reading_class_lists_does_not_import_torch():
    code = ("import sys; from rib_core.data import imagenet_classes as c, imagenet_variants, locate; "
            "assert len(c.imagenet_wnids()) == 1000 and len(c.imagenet_a_classes()[0]) == 200; "
            "assert 'torch' not in sys.modules and 'timm' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_class_maps_are_known_without_the_data():
    for cls in list(ADAPTERS.values()) + [ImageFolder]:
        assert issubclass(cls, DatasetAdapter)
        class_map = cls("x", None, {"path": "p"} if cls is ImageFolder else {}).class_map()
        assert isinstance(class_map, ClassMap) and class_map.label_space == "imagenet-1k"
        assert class_map.num_classes == {ImageNetA: 200, ImageNetR: 200, ObjectNet: 113}.get(cls, 1000)


def test_fixtures_are_byte_identical_for_the_same_arguments(tmp_path):
    def files(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    a = make_dataset_tree("imagenet-a", tmp_path / "one", seed=7)
    b = make_dataset_tree("imagenet-a", tmp_path / "two", seed=7)
    c = make_dataset_tree("imagenet-a", tmp_path / "three", seed=8)
    assert files(a) == files(b) and "README.txt" in files(a)
    assert files(a).keys() == files(c).keys() and files(a) != files(c)


def test_bundled_objectnet_mappings_are_the_datasets_own_files():
    from tests.helpers import REPO
    from rib_core.data.objectnet import BUNDLED_MAPPINGS

    reference = REPO.parent / "shared" / "reference" / "objectnet"
    if not reference.is_dir():
        pytest.skip("the project's shared/reference/objectnet is not beside this checkout")
    for name in ("folder_to_objectnet_label.json", "objectnet_to_imagenet_1k.json", "imagenet_to_labels.json"):
        assert (BUNDLED_MAPPINGS / name).read_bytes() == (reference / name).read_bytes()
