"""The decoded-image cache and batch iteration."""

import os
import time

import numpy as np
import pytest
import torch

from rib_core.data.fixtures import make_dataset_tree, truncate_file
from rib_core.data.images import open_images
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.data.objectnet import ObjectNet
from rib_core.errors import DataError
from rib_core.preprocess import Preprocess

torch.set_num_threads(1)
PRE = Preprocess(input_size=16, resize_size=18)


class CountingAdapter(ImageNetR):
    """ImageNet-R that counts how many images it opens (workers=0 keeps the counting in this process)."""

    opened = 0

    def open_image(self, path):
        type(self).opened += 1
        return super().open_image(path)


@pytest.fixture
def tree(tmp_path):
    CountingAdapter.opened = 0
    root = make_dataset_tree("imagenet-r", tmp_path / "data", n_classes=3, per_class=4)
    return root


def expected_pixels(adapter, samples):
    return torch.stack([PRE.to_uint8(adapter.open_image(s.path)) for s in samples])


def all_batches(images, positions, batch_size):
    pairs = list(images.batches(np.asarray(positions), batch_size))
    return (torch.cat([b for b, _ in pairs]) if pairs else torch.zeros(0),
            np.concatenate([p for _, p in pairs]) if pairs else np.zeros(0, np.int64), pairs)


def test_cache_is_built_once_then_read_without_decoding(tree, tmp_path):
    adapter = CountingAdapter("imagenet-r", tree)
    samples = adapter.samples()
    cache = tmp_path / "cache"
    progress = []
    images = open_images(adapter, samples, PRE, cache, shard_images=5, progress=lambda d, t: progress.append((d, t)))
    assert CountingAdapter.opened == 12 and images.decoded == 12
    assert progress[-1] == (12, 12)
    folder = images.cache_path
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json", "shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"]

    again = open_images(CountingAdapter("imagenet-r", tree), samples, PRE, cache)
    assert CountingAdapter.opened == 12 and again.decoded == 0  # not one JPEG read the second time
    order = np.random.default_rng(0).permutation(12)
    pixels, positions, pairs = all_batches(again, order, batch_size=5)
    assert [len(p) for _, p in pairs] == [5, 5, 2]
    assert np.array_equal(positions, order)
    assert pixels.dtype == torch.uint8 and pixels.shape == (12, 3, 16, 16)
    truth = expected_pixels(ImageNetR("imagenet-r", tree), samples)
    assert torch.equal(pixels, truth[torch.from_numpy(order)])


def test_streaming_without_cache_matches_and_uses_workers(tree):
    adapter = ImageNetR("imagenet-r", tree)
    samples = adapter.samples()
    images = open_images(adapter, samples, PRE, cache_dir=None, workers=1)
    assert images.cache_path is None
    positions = np.array([11, 0, 5, 6])
    pixels, got, _ = all_batches(images, positions, batch_size=3)
    assert np.array_equal(got, positions)
    assert torch.equal(pixels, expected_pixels(adapter, [samples[i] for i in positions]))


def test_changed_file_list_or_touched_file_gives_a_new_cache(tree, tmp_path):
    adapter = CountingAdapter("imagenet-r", tree)
    cache = tmp_path / "cache"
    first = open_images(adapter, adapter.samples(), PRE, cache)

    new_file = tree / adapter.samples()[0].path.replace(".jpg", "_copy.jpg")
    new_file.write_bytes((tree / adapter.samples()[0].path).read_bytes())
    grown = CountingAdapter("imagenet-r", tree)
    second = open_images(grown, grown.samples(), PRE, cache)
    assert second.cache_path != first.cache_path and second.decoded == 13 and len(second) == 13

    touched = tree / grown.samples()[3].path
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = open_images(grown, grown.samples(), PRE, cache)
    assert third.cache_path not in (first.cache_path, second.cache_path) and third.decoded == 13

    other_geometry = open_images(grown, grown.samples(), Preprocess(input_size=8, resize_size=8), cache)
    assert other_geometry.cache_path != third.cache_path and other_geometry.decoded == 13


def test_a_cache_without_manifest_is_not_used(tree, tmp_path):
    adapter = CountingAdapter("imagenet-r", tree)
    samples = adapter.samples()
    cache = tmp_path / "cache"
    built = open_images(adapter, samples, PRE, cache, shard_images=5)
    folder = built.cache_path
    (folder / "manifest.json").unlink()  # as if the build had been killed before finishing
    # A damaged shard (as after a crash that lost written pages) must be decoded again, the others reused.
    (folder / "shard-00001.safetensors").write_bytes(b"\0" * 100)
    rebuilt = open_images(adapter, samples, PRE, cache, shard_images=5)
    assert rebuilt.decoded == 5 and (folder / "manifest.json").is_file()
    pixels, _, _ = all_batches(rebuilt, np.arange(12), 12)
    assert torch.equal(pixels, expected_pixels(adapter, samples))


def test_an_interrupted_build_leaves_no_manifest_and_resumes(tree, tmp_path):
    adapter = CountingAdapter("imagenet-r", tree)
    samples = adapter.samples()
    cache = tmp_path / "cache"

    def stop_after_first_shard(done, total):
        if done > 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_images(adapter, samples, PRE, cache, shard_images=5, progress=stop_after_first_shard)
    (folder,) = cache.iterdir()
    assert not (folder / "manifest.json").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["shard-00000.safetensors"]  # no temp file left
    resumed = open_images(adapter, samples, PRE, cache, shard_images=5)
    assert resumed.decoded == 7
    pixels, _, _ = all_batches(resumed, np.arange(12), 4)
    assert torch.equal(pixels, expected_pixels(adapter, samples))


@pytest.mark.parametrize("use_cache", [True, False])
def test_unreadable_images_are_skipped_and_listed(tree, tmp_path, use_cache):
    adapter = ImageNetR("imagenet-r", tree)
    samples = adapter.samples()
    truncate_file(tree / samples[2].path)
    (tree / samples[7].path).write_text("not a jpeg at all")
    cache = tmp_path / "cache" if use_cache else None
    images = open_images(adapter, samples, PRE, cache, shard_images=5)
    _, positions, pairs = all_batches(images, np.arange(12), 4)
    assert images.unreadable == [2, 7]
    assert sorted(positions.tolist()) == [i for i in range(12) if i not in (2, 7)]
    if use_cache:
        assert [len(p) for _, p in pairs] == [4, 4, 2]  # unreadable images are dropped before batching

    with pytest.raises(DataError, match=samples[2].path.split("/")[-1]):
        strict = open_images(adapter, samples, PRE, cache, strict=True)
        list(strict.batches(np.arange(12), 4))


def test_cache_holds_no_pickles(tree, tmp_path):
    adapter = ImageNetR("imagenet-r", tree)
    images = open_images(adapter, adapter.samples(), PRE, tmp_path / "cache")
    suffixes = {p.suffix for p in images.cache_path.iterdir()}
    assert suffixes == {".safetensors", ".json"}


def test_objectnet_border_is_cropped_before_caching(tmp_path):
    root = make_dataset_tree("objectnet", tmp_path / "data", n_classes=1, per_class=1, size=64)
    adapter = ObjectNet("objectnet", root)
    images = open_images(adapter, adapter.samples(), Preprocess(input_size=56, resize_size=56,
                                                                interpolation="nearest"), tmp_path / "c")
    (batch, _), = list(images.batches(np.arange(1), 1))
    magenta = (batch[0, 0] == 255) & (batch[0, 1] == 0) & (batch[0, 2] == 255)
    assert not magenta.any()  # the 2-pixel frame never reaches the model


def test_reading_a_cached_batch_is_fast(tree, tmp_path):
    adapter = ImageNetR("imagenet-r", tree)
    images = open_images(adapter, adapter.samples(), PRE, tmp_path / "cache")
    start = time.perf_counter()
    for _ in range(50):
        list(images.batches(np.arange(12), 12))
    assert (time.perf_counter() - start) / 50 < 0.05
