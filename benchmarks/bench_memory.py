"""Peak memory of evaluating a dataset from the cache: N images vs 2N images. It must not grow with N.

    python benchmarks/bench_memory.py [--images 1024] [--batch-size 64] [--json F]

Builds decoded-image caches (224 px) of N and of 2N JPEGs, then evaluates each in a fresh process with rib's
`predict()` and a model that costs almost nothing (average-pool + linear), so the data path and the
predictions are what use memory. Each child reports, from /proc/self/status:

  peak RssAnon  the process's own memory (heap, tensors, anonymous mappings; plus RssShmem), sampled after
                every batch: what must stay flat;
  VmHWM         the peak resident set, which also counts pages of the memory-mapped cache files. Those are
                the kernel's page cache, shared and dropped under pressure, so they are reported, not judged.

A data path that read the dataset into memory would add 150 KB per image (3 x 224 x 224 bytes); what rib
keeps per image is its top-5 predictions (about 50 bytes). Target: peak RssAnon(2N) - peak RssAnon(N) below
10% of what holding the extra N images would cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import REPO, Report, imagenet_r, proc_status_mb, reset_peak_rss, write_jpeg_tree

SIZE = 224


def private_mb() -> float:
    """Memory the process holds for itself: anonymous pages plus shared-memory mappings (torch's shared tensors)."""
    return proc_status_mb("RssAnon") + proc_status_mb("RssShmem")


def child(tree: Path, cache: Path, batch_size: int) -> dict:
    """Evaluate every image of `tree` from its cache; peak memory readings in MiB."""
    import numpy as np
    import torch

    from rib_core.data.images import open_images
    from rib_core.engine.evaluate import predict
    from rib_core.preprocess import Preprocess

    torch.set_num_threads(1)
    adapter, samples = imagenet_r(tree)
    preprocess = Preprocess(input_size=SIZE, resize_size=round(SIZE / 0.9))
    images = open_images(adapter, samples, preprocess, cache)
    model = torch.nn.Sequential(torch.nn.AvgPool2d(16), torch.nn.Flatten(), torch.nn.Linear(3 * 14 * 14, 1000))
    positions = np.arange(len(samples))
    # Warm up once on a batch so one-off allocations (kernels, thread pools) are out of the measured peak.
    predict(model, preprocess, images, positions[:batch_size], adapter.class_map(), torch.device("cpu"), batch_size)
    before = private_mb()
    reset_peak_rss()
    peak = [before]
    out = predict(model, preprocess, images, positions, adapter.class_map(), torch.device("cpu"), batch_size,
                  on_batch=lambda n: peak.append(private_mb()))
    assert len(out["positions"]) == len(samples)
    return {"images": len(samples), "anon_before": before, "anon_peak": max(peak),
            "vm_hwm": proc_status_mb("VmHWM"), "rss_file_end": proc_status_mb("RssFile")}


def measure(tree: Path, cache: Path, batch_size: int) -> dict:
    """child() in a fresh interpreter, so that each reading starts from the same state."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import json, bench_memory; "
            f"print(json.dumps(bench_memory.child(__import__('pathlib').Path({str(tree)!r}), "
            f"__import__('pathlib').Path({str(cache)!r}), {batch_size})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024, help="N; the second dataset has 2N")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from rib_core.data.images import open_images
    from rib_core.preprocess import Preprocess

    report = Report("memory", vars(args))
    preprocess = Preprocess(input_size=SIZE, resize_size=round(SIZE / 0.9))
    readings = {}
    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        tmp = Path(tmp)
        for n in (args.images, 2 * args.images):
            tree = write_jpeg_tree(tmp / f"n{n}", n, width=256)
            adapter, samples = imagenet_r(tree)
            open_images(adapter, samples, preprocess, tmp / "cache", workers=2)  # build (not measured)
            readings[n] = measure(tree, tmp / "cache", args.batch_size)

    n, n2 = args.images, 2 * args.images
    print(f"evaluating from the cache at {SIZE}px, batch {args.batch_size}; MiB:")
    print(f"  {'images':>7} {'RssAnon before':>15} {'peak RssAnon':>13} {'VmHWM':>8} {'RssFile at end':>15}")
    for count, r in readings.items():
        print(f"  {count:>7} {r['anon_before']:>15.1f} {r['anon_peak']:>13.1f} {r['vm_hwm']:>8.1f} "
              f"{r['rss_file_end']:>15.1f}")
    growth = readings[n2]["anon_peak"] - readings[n]["anon_peak"]
    held_in_memory = n * 3 * SIZE * SIZE / 2**20  # what the extra N images would cost if held in memory
    report.figure("peak RssAnon, N images", readings[n]["anon_peak"], "MiB")
    report.figure("peak RssAnon, 2N images", readings[n2]["anon_peak"], "MiB")
    report.figure("peak RssAnon above the idle process, 2N images",
                  readings[n2]["anon_peak"] - readings[n2]["anon_before"], "MiB",
                  note=f"one batch: {args.batch_size * 3 * SIZE * SIZE / 2**20:.1f} MiB uint8, 4x that as float32")
    report.figure("peak RssAnon growth N -> 2N", growth, "MiB", target=f"< {0.1 * held_in_memory:.1f} MiB",
                  ok=growth < 0.1 * held_in_memory, note=f"holding the extra images: {held_in_memory:.0f} MiB")
    report.figure("growth per extra image", growth * 2**20 / n, "bytes")
    report.figure("VmHWM growth N -> 2N (page cache of the mapped files)",
                  readings[n2]["vm_hwm"] - readings[n]["vm_hwm"], "MiB")
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
