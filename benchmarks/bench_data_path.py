"""Images per second delivered to a model as normalised tensors: JPEG decoding vs the decoded-image cache.

    python benchmarks/bench_data_path.py [--images 512] [--workers 2] [--batch-size 64] [--width 500]

Writes ImageNet-sized JPEGs (500 x 375 by default, like a typical ImageNet photo) into a temporary ImageNet-R
style tree, then times, over the same images and in the same order:
  1. decode: open_images(cache_dir=None): DataLoader workers decode, resize and crop every batch;
  2. cache:  open_images(cache_dir=...): batches gathered from memory-mapped uint8 safetensors shards;
each followed by Preprocess.normalizer on the CPU; the cache is also timed delivering uint8 batches alone, since
real runs normalise on the device. The cache build itself (a one-off per dataset and geometry) is timed
separately. Prints the ratios cache / decode.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rib_core.data.fixtures import class_pattern, fixture_classes
from rib_core.data.imagenet_classes import imagenet_wnids
from rib_core.data.images import open_images
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.preprocess import Preprocess


def write_tree(root: Path, n_images: int, width: int) -> Path:
    from PIL import Image

    tree = root / "imagenet-r"
    classes = fixture_classes("imagenet-r", 8)
    rng = np.random.default_rng(0)
    for i in range(n_images):
        index = classes[i % len(classes)]
        folder = tree / imagenet_wnids()[index]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = class_pattern(index, width, width * 3 // 4, "photo", rng)
        Image.fromarray(pixels).save(folder / f"photo_{i:05d}.jpg", quality=90)
    return tree


def deliver(images, positions, batch_size, preprocess=None) -> float:
    """Seconds to pull every batch (and normalise it, when `preprocess` is given)."""
    normalize = preprocess.normalizer(torch.device("cpu")) if preprocess is not None else None
    start = time.perf_counter()
    for batch, _ in images.batches(positions, batch_size):
        if preprocess is not None:
            batch = normalize(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for decoding")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=500, help="width of the generated JPEGs (height = 3/4)")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes over the images (best is kept)")
    args = parser.parse_args()

    preprocess = Preprocess()  # 224 px, resize 248, bicubic: timm's ViT-B/16 evaluation geometry
    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        tmp = Path(tmp)
        adapter = ImageNetR("imagenet-r", write_tree(tmp, args.images, args.width))
        samples = adapter.samples()
        positions = np.random.default_rng(1).permutation(len(samples))  # training order: shuffled

        streaming = open_images(adapter, samples, preprocess, cache_dir=None, workers=args.workers)
        decode_s = min(deliver(streaming, positions, args.batch_size, preprocess) for _ in range(args.repeat))

        start = time.perf_counter()
        cached = open_images(adapter, samples, preprocess, cache_dir=tmp / "cache", workers=args.workers)
        build_s = time.perf_counter() - start
        cache_s = min(deliver(cached, positions, args.batch_size, preprocess) for _ in range(args.repeat))
        uint8_s = min(deliver(cached, positions, args.batch_size) for _ in range(args.repeat))

    n = len(samples)
    print(f"{n} JPEGs of {args.width}x{args.width * 3 // 4} -> uint8 3x224x224, batch {args.batch_size}, "
          f"{args.workers} decode workers, torch threads {torch.get_num_threads()}")
    print(f"decode on the fly : {n / decode_s:10.1f} images/s")
    print(f"cache (memory-map): {n / cache_s:10.1f} images/s")
    print(f"cache, uint8 only : {n / uint8_s:10.1f} images/s  (normalisation left to the device, as in real runs)")
    print(f"cache build (once): {n / build_s:10.1f} images/s")
    print(f"ratio cache / decode: {decode_s / cache_s:.1f}x (normalised on the CPU both ways), "
          f"{decode_s / uint8_s:.1f}x (uint8 batches)")


if __name__ == "__main__":
    main()
