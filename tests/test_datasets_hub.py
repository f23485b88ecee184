"""`hub:<dataset>`: webdataset shards written locally in the Hugging Face cache layout, read offline."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from rib_core.data.fixtures import make_dataset_tree
from rib_core.data.hub import HubDataset, clip_imagenet_names
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.data.locate import open_adapter
from rib_core.errors import DataError
from tests.dataset_server import make_tar

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_hub_repo(cache, repo, shards: list[dict[str, bytes]], classnames: list[str]):
    folder = cache / f"datasets--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / COMMIT
    (snapshot / "test").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)
    (snapshot / "classnames.txt").write_text("\n".join(classnames) + "\n")
    for n, files in enumerate(shards):
        (snapshot / "test" / f"{n}.tar").write_bytes(make_tar(files, compressed=False))
    return snapshot


@pytest.fixture
def hub_imagenet_r(tmp_path, monkeypatch):
    """ImageNet-R's fixture images as two webdataset shards, labelled in the 200-class order."""
    tree = make_dataset_tree("imagenet-r", tmp_path / "trees")
    folder_adapter = open_adapter(ImageNetR, "imagenet-r", {}, str(tmp_path / "trees"))
    shards = [{}, {}]
    for i, sample in enumerate(folder_adapter.samples()):
        shards[i % 2][f"s{i:07d}.jpg"] = (tree / sample.path).read_bytes()
        shards[i % 2][f"s{i:07d}.cls"] = f"{sample.label}\n".encode()
    clip = clip_imagenet_names()
    names = [clip[g[0]] for g in folder_adapter.class_map().groups]
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_hub_repo(cache, "clip-benchmark/wds_imagenet-r", shards, names)
    return folder_adapter, cache, names


def test_hub_shards_give_the_folder_adapters_labels_and_pixels(hub_imagenet_r, rib_registry):
    folder_adapter, _, _ = hub_imagenet_r
    hub = HubDataset("hub:imagenet-r", None, {"adapter": "hub:imagenet-r"})
    assert hub.class_map() == folder_adapter.class_map()
    by_bytes = {(folder_adapter.root / s.path).read_bytes(): s for s in folder_adapter.samples()}
    assert len(hub.samples()) == len(by_bytes) == 6
    for sample in hub.samples():
        original = by_bytes[hub.read_bytes(sample.path)]
        assert sample.label == original.label
        assert np.array_equal(np.asarray(hub.open_image(sample.path)),
                              np.asarray(folder_adapter.open_image(original.path)))


def test_check_through_the_cli_reads_the_cache_offline(hub_imagenet_r, run_rib, rib_registry):
    result = run_rib("datasets", "check", "hub:imagenet-r", "--deep", "--json")
    row = json.loads(result.stdout)[0]
    assert (row["images"], row["classes"], row["unreadable"]) == (6, 3, [])
    assert row["verdict"] == "partial"  # 3 fixture classes of 200
    assert "images stored as jpg" in row["problems"][0] and "re-encoded" not in row["problems"][0]
    assert row["root"].endswith(f"snapshots/{COMMIT}")


def test_a_different_class_order_is_refused(hub_imagenet_r, rib_registry):
    _, cache, names = hub_imagenet_r
    classnames = cache / "datasets--clip-benchmark--wds_imagenet-r" / "snapshots" / COMMIT / "classnames.txt"
    swapped = [names[1], names[0]] + names[2:]
    classnames.write_text("\n".join(swapped) + "\n")
    hub = HubDataset("hub:imagenet-r", None, {"adapter": "hub:imagenet-r"})
    with pytest.raises(DataError, match="not rib's 'imagenet-r' class order .* first difference at line 1"):
        hub.samples()


def test_webp_shards_are_reported_as_re_encoded(tmp_path, monkeypatch, rib_registry):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 10, 10)).save(buffer, format="WEBP")
    clip = clip_imagenet_names()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    write_hub_repo(tmp_path / "hub", "clip-benchmark/wds_imagenetv2",
                   [{"s0.webp": buffer.getvalue(), "s0.cls": b"7"}], list(clip))
    result = HubDataset("hub:imagenet-v2", None, {"adapter": "hub:imagenet-v2"}).check()
    assert result.images == 1 and "re-encoded by the publisher" in result.problems[0]


def test_missing_cache_says_what_to_do(tmp_path, monkeypatch, rib_registry):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = HubDataset("hub:objectnet", None, {"adapter": "hub:objectnet"}).check()
    assert result.verdict == "missing" and "clip-benchmark/wds_objectnet is not available" in result.problems[0]


def test_the_image_cache_key_follows_the_shards(hub_imagenet_r, rib_registry):
    import os

    from rib_core.data.images import cache_key

    class Geometry:
        def geometry_key(self):
            return "224"

    hub = HubDataset("hub:imagenet-r", None, {"adapter": "hub:imagenet-r"})
    before = cache_key(hub, hub.samples(), Geometry())
    assert hub.root is not None and cache_key(hub, hub.samples(), Geometry()) == before
    shard = hub.root / "test" / "0.tar"
    os.utime(shard, ns=(1, 1))  # a re-fetched shard
    assert cache_key(hub, hub.samples(), Geometry()) != before
