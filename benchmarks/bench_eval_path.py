"""Evaluation throughput: JPEG decoding vs the decoded-image cache, each against the model alone.

    python benchmarks/bench_eval_path.py [--model vit_tiny_patch16_224] [--input-size 224] [--images 64]
                                         [--batch-size 32] [--workers 1] [--threads 1] [--repeat 5] [--json F]

Writes `--images` photo-sized JPEGs (500 x 375) into an ImageNet-R style tree and times, in rotation, over the
same images, the same preprocessing (resize to input/0.9, bicubic, centre crop) and the same batch size:

  model only       the backbone's forward on synthetic float tensors of the input shape (the limit);
  deliver decode   normalised batches from open_images(cache_dir=None): DataLoader workers decode every pass;
  deliver cache    normalised batches from the memory-mapped uint8 cache (normalised by what predict() uses,
                   and, for comparison, by a per-batch normaliser (the baseline); and uint8 alone, as a GPU run receives them);
  e2e decode       rib's predict() (normalise, forward, class projection, top-5) fed by decoding workers;
  e2e cache        rib's predict() fed by the cache: what `rib bench` does once a dataset is cached.

Prints images/s (best of --repeat rounds; medians and CPU seconds beside them, see common.py) and the ratios,
among them e2e cache / model only (target >= 0.9: with the cache, evaluation runs at the model's speed), and for
a ViT its FLOPs against the measured matrix-product rate (the limit). The cache build (once per dataset and
geometry) is timed separately. Both e2e paths must give identical predictions: it checks that.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import (Report, cpu_ratio, imagenet_r, matmul_peak, rate, ratio, rotate, seconds, set_threads,
                    timm_model, vit_flops, write_jpeg_tree)


def per_batch_normalize(preprocess):
    """The baseline rib's normaliser is measured against: mean/std tensors made for every batch and the
    arithmetic out of place (what rib did before Preprocess.normalizer; kept here only to measure against)."""
    import torch

    def normalize(batch_uint8):
        mean = torch.tensor(preprocess.mean, device=batch_uint8.device).view(1, 3, 1, 1) * 255
        std = torch.tensor(preprocess.std, device=batch_uint8.device).view(1, 3, 1, 1) * 255
        return (batch_uint8.to(torch.float32) - mean) / std
    return normalize


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vit_tiny_patch16_224", help="timm model, randomly initialised")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers decoding JPEGs")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for the model")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the headline figures here")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from rib_core.data.images import open_images
    from rib_core.engine.evaluate import predict
    from rib_core.preprocess import Preprocess

    set_threads(args.threads)
    size, batch = args.input_size, args.batch_size
    preprocess = Preprocess(input_size=size, resize_size=round(size / 0.9), interpolation="bicubic")
    device = torch.device("cpu")
    model = timm_model(args.model, size).eval()
    report = Report("eval_path", vars(args))

    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        adapter, samples = imagenet_r(write_jpeg_tree(Path(tmp), args.images))
        n = len(samples)
        positions = np.arange(n)
        class_map = adapter.class_map()
        build_s = seconds(lambda: open_images(adapter, samples, preprocess, Path(tmp) / "cache", workers=args.workers))
        cached = open_images(adapter, samples, preprocess, Path(tmp) / "cache")
        streaming = open_images(adapter, samples, preprocess, None, workers=args.workers)
        synthetic = torch.randn(batch, 3, size, size)
        sizes = [min(batch, n - i) for i in range(0, n, batch)]

        @torch.inference_mode()
        def model_only():
            for b in sizes:
                model(synthetic[:b])

        normalize = preprocess.normalizer(device)  # what predict() uses

        def deliver(images, normalize=normalize):
            def run():
                for uint8, _ in images.batches(positions, batch):
                    normalize(uint8)
            return run

        outputs = {}

        def e2e(name, images):
            def run():
                outputs[name] = predict(model, preprocess, images, positions, class_map, device, batch)
            return run

        times = rotate({"model only": model_only, "deliver decode": deliver(streaming),
                        "deliver cache": deliver(cached),
                        "deliver cache, per-batch normalise": deliver(cached, per_batch_normalize(preprocess)),
                        "deliver cache, uint8 only": deliver(cached, lambda uint8: uint8),
                        "e2e decode": e2e("decode", streaming),
                        "e2e cache": e2e("cache", cached)}, args.repeat)
        first = next(iter(cached.batches(positions, batch)))[0]
        same_normalisation = torch.equal(normalize(first), per_batch_normalize(preprocess)(first))

    same = torch.equal(outputs["decode"]["top_idx"], outputs["cache"]["top_idx"])
    print(f"{n} JPEGs 500x375 -> {size}px, {args.model} (random init), batch {batch}, {args.workers} decode "
          f"worker(s), {torch.get_num_threads()} torch thread(s), {args.repeat} rounds; per pass over the images:")
    for name, t in times.items():
        print(f"  {name:<36} {rate(n, t):8.1f} images/s  ({t.describe()})")
    model_t = times["model only"]
    for name in ("model only", "deliver decode", "deliver cache", "e2e decode", "e2e cache"):
        report.figure(f"{name} images/s", rate(n, times[name]), "img/s")
    report.figure("deliver cache uint8 only (device normalises) images/s", rate(n, times["deliver cache, uint8 only"]),
                  "img/s")
    report.figure("cache build (decode once) images/s", n / build_s, "img/s")
    if hasattr(model, "blocks"):  # a ViT: how far the model itself is from the machine's limit
        flops, peak = vit_flops(model), matmul_peak(device, torch.float32)
        report.figure("model FLOPs per image", flops / 1e9, "GFLOP")
        report.figure("matmul peak (fp32, these threads)", peak / 1e9, "GFLOP/s")
        report.figure("model only / limit (peak / FLOPs)", rate(n, model_t) * flops / peak, "x")
    report.figure("deliver decode / model only", ratio(times["deliver decode"], model_t), "x",
                  note="> 1: decoding alone outruns the model")
    report.figure("deliver cache / model only", ratio(times["deliver cache"], model_t), "x")
    report.figure("deliver cache / deliver decode", ratio(times["deliver cache"], times["deliver decode"]), "x")
    e2e_cache = ratio(times["e2e cache"], model_t)
    report.figure("e2e cache / model only", e2e_cache, "x", target=">= 0.9", ok=e2e_cache >= 0.9)
    report.figure("e2e cache / model only, CPU seconds", cpu_ratio(times["e2e cache"], model_t), "x",
                  note="work added by the harness, immune to other jobs")
    report.figure("e2e decode / model only", ratio(times["e2e decode"], model_t), "x")
    report.figure("e2e cache / e2e decode", ratio(times["e2e cache"], times["e2e decode"]), "x")
    report.figure("normaliser speed-up vs per-batch normalise",
                  ratio(times["deliver cache"], times["deliver cache, per-batch normalise"]), "x",
                  note="rib_core.preprocess.Preprocess.normalizer")
    report.figure("decode and cache predictions identical", int(same), "bool", target="1", ok=same)
    report.figure("normaliser bit-identical to per-batch normalise", int(same_normalisation), "bool", target="1",
                  ok=same_normalisation)
    report.timings(times)
    report.write(args.json)
    return 0 if same and same_normalisation else 1


if __name__ == "__main__":
    raise SystemExit(main())
