"""One prepared check for a CUDA machine: bf16 correctness and the speed figures of rib for ViT-B/16.

    benchmarks/gpu_check.sh [--out FILE] [--no-compile] [--images 2048]     # on a CUDA machine, < 8 minutes
    python benchmarks/gpu_check.py --smoke [--compile]                       # CPU fallback, tiny sizes

Needs only the repository and rib-core's requirements (torch, torchvision, timm, safetensors, numpy, pillow,
pluggy, rich): no weights and no data are downloaded. The model is a randomly initialised timm
vit_base_patch16_224, briefly trained here on synthetic class patterns so that its predictions mean
something; the images are photo-sized JPEGs (500 x 375) written here.

Sections (each prints its figures as it goes; the table and the JSON come at the end):
  1. data      JPEG tree, cache build rate;
  2. training  rib's fine_tune vs a plain loop (bf16 autocast, fused SGD; plus foreach SGD, gradient
               checkpointing), images/s; then a short AdamW run that makes the model's predictions decisive;
  3. correct   bf16 autocast vs strict fp32 (TF32 off) predictions on the same images. Tolerance: accuracy
               within 1.0 point, and top-1 agreement >= 99.5 % on the images whose fp32 top-1 probability
               leads the runner-up by >= 0.05 (below that, bf16's 3 significant digits may flip a near tie);
  4. eval      model only (fp32 with TF32, bf16, bf16 + torch.compile) on synthetic tensors vs rib's predict()
               from the cache, a variant of it with pinned gathering and no per-batch synchronisation, decoding
               with DataLoader workers, and the reference-style loop (torchvision, fp32, re-decoding);
               the limit: the model's FLOPs / the device's measured bf16 matmul rate.
The whole run keeps to --budget-s: optional parts (torch.compile, gradient checkpointing) are skipped
when the time is short, and the JSON says so.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import Report, imagenet_r, matmul_peak, print_table, rate, ratio, rotate, sync, timm_model, vit_flops

DECISIVE_MARGIN = 0.05  # fp32 top-1 minus top-2 probability above which bf16 must agree
AGREEMENT_TOLERANCE = 99.5  # % of decisive images on which bf16 and fp32 top-1 agree
ACCURACY_TOLERANCE = 1.0  # accuracy points between bf16 and fp32


# -- data -----------------------------------------------------------------------------------------------------
def _write_one(job) -> None:
    import numpy as np
    from PIL import Image

    from rib_core.data.fixtures import class_pattern

    path, index, seed, width = job
    pixels = class_pattern(index, width, width * 3 // 4, "photo", np.random.default_rng(seed))
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)


def write_tree(root: Path, n_images: int, width: int, n_classes: int = 8) -> Path:
    """ImageNet-R style tree of `n_images` distinct JPEGs, written by all cores."""
    from rib_core.data.fixtures import fixture_classes
    from rib_core.data.imagenet_classes import imagenet_wnids

    tree = root / "imagenet-r"
    classes = fixture_classes("imagenet-r", n_classes)
    jobs = []
    for i in range(n_images):
        folder = tree / imagenet_wnids()[classes[i % n_classes]]
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((str(folder / f"photo_{i:06d}.jpg"), classes[i % n_classes], i, width))
    with Pool(os.cpu_count()) as pool:
        pool.map(_write_one, jobs, chunksize=16)
    return tree


# -- evaluation variants -------------------------------------------------------------------------------------
def predict_overlapped(model, preprocess, images, positions, class_map, device, batch_size):
    """predict() with two changes, to measure what they would gain: batches gathered straight into pinned
    memory (no second copy in the main thread), and results kept on the device until the end (no per-batch
    synchronisation, so the CPU queues batch k+1 while the GPU computes batch k)."""
    import torch

    normalize = preprocess.normalizer(device)
    index = torch.tensor([g[0] for g in class_map.groups], device=device)  # ImageNet-R: a plain subset
    cuda = device.type == "cuda"
    outputs = []
    with torch.inference_mode():
        for batch, pos in images.batches(positions, batch_size, pin_memory=cuda):
            x = normalize(batch.to(device, non_blocking=cuda))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = model(x)
            prob, idx = logits.float().index_select(1, index).softmax(dim=1).topk(5, dim=1)
            outputs.append((idx, prob))
        top_idx = torch.cat([i for i, _ in outputs]).cpu()
    return {"top_idx": top_idx}


def model_only(model, device, batch_size: int, n_images: int, size: int, amp: bool):
    import torch

    x = torch.randn(batch_size, 3, size, size, device=device)
    batches = [min(batch_size, n_images - i) for i in range(0, n_images, batch_size)]

    @torch.inference_mode()
    def run():
        for b in batches:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
                model(x[:b])
        sync(device)
    return run


class tf32:
    """Context manager setting torch's TF32 switches (the reference code leaves them at torch's defaults)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        import torch

        self.saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.enabled

    def __exit__(self, *exc):
        import torch

        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


# -- the check -----------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="JSON file (default: $OUT/gpu_check.json, else ./gpu_check.json)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: exercises every path")
    parser.add_argument("--model", default=None, help="timm model (default vit_base_patch16_224; smoke: vit_tiny)")
    parser.add_argument("--images", type=int, default=None, help="evaluation images (default 2048; smoke 32)")
    parser.add_argument("--eval-batch", type=int, default=None, help="default 256 (rib's eval_batch_size); smoke 16")
    parser.add_argument("--train-batch", type=int, default=None, help="default 64 (the paper's); smoke 8")
    parser.add_argument("--workers", type=int, default=None, help="decode workers (default: all cores)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--compile", action="store_true", help="run the torch.compile part on a CPU too (slow)")
    parser.add_argument("--budget-s", type=float, default=420, help="skip optional parts past this many seconds")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from bench_reference_loop import reference_labels, reference_loop
    from bench_training import plain_loop, rib_fine_tune
    from rib_core.data.images import open_images
    from rib_core.engine.evaluate import predict
    from rib_core.engine.device import select_device
    from rib_core.preprocess import Preprocess
    from rib_core.strategies.base import TrainSettings

    started = time.perf_counter()
    elapsed = lambda: time.perf_counter() - started  # noqa: E731
    cuda = torch.cuda.is_available() and not args.smoke
    if not cuda and not args.smoke:
        print("no CUDA device: running the CPU fallback with tiny sizes (--smoke)")
        args.smoke = True
    smoke = args.smoke
    device = select_device("cuda" if cuda else "cpu")  # sets TF32 on CUDA, as `rib bench` does
    model_name = args.model or ("vit_tiny_patch16_224" if smoke else "vit_base_patch16_224")
    size = 64 if smoke else 224
    n = args.images or (32 if smoke else 2048)
    eval_batch = args.eval_batch or (16 if smoke else 256)
    train_batch = args.train_batch or (8 if smoke else 64)
    workers = args.workers if args.workers is not None else (1 if smoke else (os.cpu_count() or 1))
    repeat = 1 if smoke else args.repeat
    if smoke:
        torch.set_num_threads(1)
    out_path = Path(args.out or (Path(os.environ["OUT"]) / "gpu_check.json" if os.environ.get("OUT")
                                 else "gpu_check.json"))
    settings_for_report = {"model": model_name, "input_size": size, "images": n, "eval_batch": eval_batch,
                           "train_batch": train_batch, "workers": workers, "repeat": repeat, "smoke": smoke,
                           "device": str(device)}
    report = Report("gpu_check", settings_for_report)
    judge = (lambda ok: None) if smoke else (lambda ok: ok)  # speed targets mean nothing at smoke sizes
    skipped = []
    preprocess = Preprocess(input_size=size, resize_size=round(size / 0.875), interpolation="bicubic")
    amp_note = "bf16 autocast" if cuda else "CPU: rib's autocast is CUDA-only, so 'bf16' runs are fp32 here"
    print(f"gpu_check: {model_name} at {size}px on {device} "
          f"({torch.cuda.get_device_name() if cuda else 'CPU fallback'}), torch {torch.__version__}; {amp_note}")

    with tempfile.TemporaryDirectory(prefix="rib-gpu-check-") as tmp:
        tmp = Path(tmp)
        # 1. data ------------------------------------------------------------------------------------------
        print("\n[1/4] data")
        tree = write_tree(tmp, n, width=500)
        adapter, samples = imagenet_r(tree)
        class_map = adapter.class_map()
        positions = np.arange(len(samples))
        labels = np.array([s.label for s in samples])
        t0 = time.perf_counter()
        cached = open_images(adapter, samples, preprocess, tmp / "cache", workers=workers)
        report.figure("cache build images/s", n / (time.perf_counter() - t0), "img/s", note=f"{workers} workers")
        streaming = open_images(adapter, samples, preprocess, None, workers=workers)

        # 2. training -------------------------------------------------------------------------------------
        print("\n[2/4] training")
        initial = timm_model(model_name, size)
        sgd = dict(optimizer="sgd", lr=1e-3, momentum=0.9, epochs=1, warmup_steps=2, batch_size=train_batch)
        bare = TrainSettings(**sgd, checkpoint_every_epoch=False)
        full = TrainSettings(**sgd, checkpoint_every_epoch=True)
        uint8_images = torch.cat([b for b, _ in cached.batches(positions, 256)])
        labels_t = torch.from_numpy(labels)
        class_indices = [g[0] for g in class_map.groups]
        runs = iter(range(10**6))

        def plain(**kw):
            def run():
                model = copy.deepcopy(initial).to(device)
                plain_loop(model, uint8_images, labels_t, preprocess, class_indices, bare, device, **kw)
                sync(device)
            return run

        def rib(settings):
            def run():
                model = copy.deepcopy(initial).to(device)
                work = tmp / f"work-{next(runs)}"
                rib_fine_tune(model, cached, positions, labels, preprocess, class_map, settings, device, work)
                sync(device)
                shutil.rmtree(work)  # a ViT-B checkpoint is ~0.7 GB
            return run

        variants = {"plain loop": plain(), "rib, no checkpoints": rib(bare), "rib": rib(full)}
        times = rotate(variants, repeat)
        report.timings({f"train {k}": v for k, v in times.items()})
        for name, t in times.items():
            report.figure(f"train {name} images/s", rate(n, t), "img/s")  # one epoch: every image once
        overhead = ratio(times["rib, no checkpoints"], times["plain loop"])
        report.figure("train rib (no checkpoints) / plain loop", overhead, "x", target=">= 0.97",
                      ok=judge(overhead >= 0.97))
        report.figure("train rib (checkpoint per epoch) / plain loop", ratio(times["rib"], times["plain loop"]), "x",
                      note=f"one epoch = {n} images here; real epochs are 10-100x longer")
        if elapsed() < args.budget_s * 0.4:
            memory = {}

            def plain_measured(name, fused=None, checkpointing=False):
                def run():
                    model = copy.deepcopy(initial).to(device)
                    model.set_grad_checkpointing(checkpointing)
                    if cuda:
                        torch.cuda.reset_peak_memory_stats()
                    plain_loop(model, uint8_images, labels_t, preprocess, class_indices, bare, device, fused=fused)
                    sync(device)
                    if cuda:
                        memory[name] = torch.cuda.max_memory_allocated()
                return run

            extra = rotate({"plain": plain_measured("plain"), "foreach SGD": plain_measured("foreach", fused=False),
                            "gradient checkpointing": plain_measured("checkpointed", checkpointing=True)}, repeat)
            report.timings({f"train extra {k}": v for k, v in extra.items()})
            report.figure("fused SGD / foreach SGD (plain loop)", ratio(extra["plain"], extra["foreach SGD"]), "x",
                          note="" if cuda else "CPU: both foreach")
            report.figure("gradient checkpointing / without, images/s",
                          ratio(extra["gradient checkpointing"], extra["plain"]), "x")
            if cuda:
                report.figure("gradient checkpointing / without, peak memory",
                              memory["checkpointed"] / memory["plain"], "x",
                              note=f"without: {memory['plain'] / 2**30:.1f} GiB at batch {train_batch}")
        else:
            skipped.append("fused-vs-foreach and gradient checkpointing (time budget)")

        # A model whose predictions mean something, for the correctness check: a short AdamW run.
        from rib_core.engine.train import TrainingDiverged

        decisive = copy.deepcopy(initial).to(device)
        adamw = TrainSettings(optimizer="adamw", lr=1e-4, epochs=1 if smoke else 3, warmup_steps=2 if smoke else 10,
                              batch_size=train_batch, checkpoint_every_epoch=False)
        try:
            rib_fine_tune(decisive, cached, positions, labels, preprocess, class_map, adamw, device, tmp / "decisive")
        except TrainingDiverged as exc:  # the check still runs, on the random model: the agreement figures say how
            print(f"  the short AdamW run diverged ({exc}); checking the random model instead")
            decisive = copy.deepcopy(initial).to(device)
            skipped.append("decisive training (diverged)")
        decisive.eval()

        # 3. correctness: bf16 vs fp32 -------------------------------------------------------------------
        print("\n[3/4] bf16 vs fp32")
        with tf32(False):
            fp32 = predict(decisive, preprocess, cached, positions, class_map, device, eval_batch, amp=False)
        bf16 = predict(decisive, preprocess, cached, positions, class_map, device, eval_batch, amp=True)
        truth = labels[fp32["positions"].numpy()]
        acc32 = 100 * float((fp32["top_idx"][:, 0].numpy() == truth).mean())
        acc16 = 100 * float((bf16["top_idx"][:, 0].numpy() == truth).mean())
        margin = (fp32["top_prob"][:, 0] - fp32["top_prob"][:, 1]).numpy()
        agree = (fp32["top_idx"][:, 0] == bf16["top_idx"][:, 0]).numpy()
        sure = margin >= DECISIVE_MARGIN
        sure_agreement = 100 * float(agree[sure].mean()) if sure.any() else float("nan")
        report.figure("accuracy fp32 (TF32 off)", acc32, "%", note=f"{len(truth)} images, 8 classes of 200")
        report.figure("accuracy bf16 autocast", acc16, "%")
        report.figure("|accuracy bf16 - fp32|", abs(acc16 - acc32), "points", target=f"<= {ACCURACY_TOLERANCE}",
                      ok=abs(acc16 - acc32) <= ACCURACY_TOLERANCE)
        report.figure("top-1 agreement, all images", 100 * float(agree.mean()), "%")
        report.figure(f"top-1 agreement, fp32 margin >= {DECISIVE_MARGIN}", sure_agreement, "%",
                      target=f">= {AGREEMENT_TOLERANCE}", ok=bool(sure.any()) and sure_agreement >= AGREEMENT_TOLERANCE,
                      note=f"{100 * float(sure.mean()):.0f}% of the images are that decisive")

        # 4. evaluation throughput -----------------------------------------------------------------------
        print("\n[4/4] evaluation throughput")
        model = copy.deepcopy(decisive).eval()
        flops = vit_flops(model)
        peak = matmul_peak(device, torch.bfloat16 if cuda else torch.float32)
        results = {}

        def rib_predict(images, m=model):
            def run():
                results["rib"] = predict(m, preprocess, images, positions, class_map, device, eval_batch)
                sync(device)
            return run

        def overlapped():
            results["overlapped"] = predict_overlapped(model, preprocess, cached, positions, class_map, device,
                                                       eval_batch)

        def reference():
            with tf32(False):
                reference_loop(model, tree, preprocess, *reference_labels(samples, class_map), eval_batch, workers,
                               device)
            sync(device)

        fns = {"model only fp32 (TF32)": model_only(model, device, eval_batch, n, size, amp=False),
               "model only bf16": model_only(model, device, eval_batch, n, size, amp=True),
               "rib predict, cache": rib_predict(cached),
               "predict, pinned + no per-batch sync": overlapped,
               "rib predict, decoding": rib_predict(streaming),
               "reference loop (fp32, decoding)": reference}
        times = rotate(fns, repeat)
        report.timings({f"eval {k}": v for k, v in times.items()})
        for name, t in times.items():
            report.figure(f"eval {name} images/s", rate(n, t), "img/s")
        limit = peak / flops
        best = times["model only bf16"]
        report.figure("measured matmul peak", peak / 1e12, "TFLOP/s", note="bf16" if cuda else "fp32")
        report.figure("model FLOPs per image", flops / 1e9, "GFLOP")
        report.figure("limit: matmul peak / FLOPs", limit, "img/s")
        report.figure("model only bf16 / limit", rate(n, best) / limit, "x")
        e2e = ratio(times["rib predict, cache"], best)
        report.figure("rib predict (cache) / model only bf16", e2e, "x", target=">= 0.9", ok=judge(e2e >= 0.9))
        report.figure("pinned + no sync variant / model only bf16", ratio(times["predict, pinned + no per-batch sync"],
                                                                          best), "x")
        report.figure("rib predict (decoding) / model only bf16", ratio(times["rib predict, decoding"], best), "x",
                      note=f"{workers} decode workers")
        report.figure("rib predict (cache) / reference loop", ratio(times["rib predict, cache"],
                                                                    times["reference loop (fp32, decoding)"]), "x")
        report.figure("bf16 / fp32 (TF32) model only", ratio(best, times["model only fp32 (TF32)"]), "x")

        if (cuda or args.compile) and not args.no_compile and elapsed() < args.budget_s * 0.7:
            t0 = time.perf_counter()
            compiled = torch.compile(model)
            model_only(compiled, device, eval_batch, n, size, amp=True)()  # compiles (full batches only)
            report.figure("torch.compile time", time.perf_counter() - t0, "s")
            ctimes = rotate({"eager": model_only(model, device, eval_batch, n, size, amp=True),
                             "compiled": model_only(compiled, device, eval_batch, n, size, amp=True),
                             "rib predict, compiled": rib_predict(cached, compiled)}, repeat)
            report.timings({f"compile {k}": v for k, v in ctimes.items()})
            report.figure("torch.compile gain, model only bf16", ratio(ctimes["compiled"], ctimes["eager"]), "x")
            report.figure("rib predict (cache, compiled) / compiled model only",
                          ratio(ctimes["rib predict, compiled"], ctimes["compiled"]), "x")
        else:
            skipped.append("torch.compile (--no-compile, time budget or CPU)")

    report.data["skipped"] = skipped
    report.data["seconds"] = elapsed()
    report.write(out_path)
    print(f"\n{'':-<100}\ngpu_check finished in {elapsed():.0f} s; JSON: {out_path}"
          + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))
    missed = print_table([report.data])
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
