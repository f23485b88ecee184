"""Fine-tuning throughput through rib's loop vs a plain hand-written timm training loop with the same settings.

    python benchmarks/bench_training.py [--model vit_tiny_patch16_224] [--input-size 64] [--images 128]
                                        [--batch-size 32] [--epochs 2] [--threads 1] [--repeat 5] [--json F]

Same model (randomly initialised), same images (from rib's decoded-image cache), same optimizer (SGD, momentum
0.9, lr 1e-3, linear warm-up then cosine), same batch size and number of steps, the same 200-class projection
of the logits, bf16 autocast and fused SGD on CUDA in both. Timed in rotation:

  plain loop           the loop anyone would write: shuffled batches from an in-memory uint8 tensor, normalise,
                       forward, cross-entropy, backward, step; no checks, no logging, no checkpoints;
  rib, no checkpoints  rib_core.engine.train.fine_tune with checkpoint_every_epoch = false: the harness's
                       own per-step costs (lr schedule, NaN check, loss log, data from the cache);
  rib                  fine_tune as `rib bench` runs it: plus an epoch checkpoint (model + optimizer state,
                       SHA-256) and train_log.json after every epoch, so a killed run resumes.

Target: rib (no checkpoints) / plain >= 1.0 within noise: the harness adds nothing per step. The checkpoint
costs a fixed time per epoch (it grows with the parameter count, not the epoch's length); it is printed.
The default 64 px input keeps the CPU run short; the loop's per-step overhead is what is measured, and a
smaller model step makes that overhead weigh more, not less.
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import (Report, cpu_ratio, imagenet_r, median, rate, ratio, rotate, set_threads, timm_model,
                    write_jpeg_tree)


def plain_loop(model, uint8_images, labels, preprocess, class_indices, settings, device, seed: int = 0,
               fused: bool | None = None) -> int:
    """Train `model` in place as a hand-written loop would; returns the optimizer steps taken.

    `uint8_images`: (N, 3, S, S) uint8 on the CPU; `labels`: (N,) indices into `class_indices` (the dataset's
    ImageNet-1k logits). `fused`: fused optimizer kernels (default: on CUDA, as rib does).
    """
    import torch
    import torch.nn.functional as F

    cuda = device.type == "cuda"
    model.train()
    fused = cuda if fused is None else fused
    kind = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[settings.optimizer]
    extra = {"momentum": settings.momentum} if settings.optimizer == "sgd" else {}
    optimizer = kind(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay,
                     **extra, **({"fused": True} if fused else {}))
    steps_per_epoch = math.ceil(len(labels) / settings.batch_size)
    total = settings.epochs * steps_per_epoch
    warmup = min(settings.warmup_steps, total)
    mean = torch.tensor(preprocess.mean, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(preprocess.std, device=device).view(1, 3, 1, 1) * 255
    mask = torch.tensor(class_indices, device=device)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(settings.epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), settings.batch_size):
            index = order[start:start + settings.batch_size]
            x = uint8_images[index]
            if cuda:
                x = x.pin_memory()
            x = (x.to(device, non_blocking=True).float() - mean) / std
            y = labels[index].to(device, non_blocking=True)
            lr = settings.lr * ((step + 1) / warmup if step < warmup
                                else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                loss = F.cross_entropy(model(x)[:, mask].float(), y)
            loss.backward()
            optimizer.step()
            step += 1
    return step


def rib_fine_tune(model, images, positions, labels, preprocess, class_map, settings, device, work_dir: Path,
                  seed: int = 0) -> int:
    """Train `model` in place through rib's fine_tune (strategy "ft"); returns the optimizer steps taken."""
    import numpy as np

    from rib_core.engine.train_data import TrainData
    from rib_core.models.base import Backbone
    from rib_core.strategies.base import TrainContext
    from rib_core.strategies.builtin import FullFineTune
    from rib_core.engine.train import fine_tune

    backbone = Backbone(model=model, preprocess=preprocess, head_prefixes=("head.",), identity="bench@0")
    data = TrainData(images, positions, np.asarray(labels), preprocess, device, settings.batch_size, seed,
                     "bench", class_map)
    # "ft" never reads pretrained_state; the runner builds it once per backbone, not per fine-tune.
    ctx = TrainContext(backbone=backbone, class_map=class_map, settings=settings, device=device,
                       pretrained_state={}, train_data=data)
    steps = []
    fine_tune(ctx, FullFineTune(), work_dir=work_dir, seed=seed, on_step=lambda step, total, loss: steps.append(step))
    return len(steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vit_tiny_patch16_224")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from rib_core.data.images import open_images
    from rib_core.preprocess import Preprocess
    from rib_core.strategies.base import TrainSettings

    set_threads(args.threads)
    device = torch.device("cpu")
    size = args.input_size
    preprocess = Preprocess(input_size=size, resize_size=round(size / 0.9), interpolation="bicubic")
    initial = timm_model(args.model, size)
    report = Report("training", vars(args))
    base = dict(optimizer="sgd", lr=1e-3, momentum=0.9, epochs=args.epochs, warmup_steps=2,
                batch_size=args.batch_size)
    with_checkpoints = TrainSettings(**base, checkpoint_every_epoch=True)
    without_checkpoints = TrainSettings(**base, checkpoint_every_epoch=False)

    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        tmp = Path(tmp)
        adapter, samples = imagenet_r(write_jpeg_tree(tmp, args.images, width=160))
        class_map = adapter.class_map()
        images = open_images(adapter, samples, preprocess, tmp / "cache")
        positions = np.arange(len(samples))
        labels = torch.tensor([s.label for s in samples])
        uint8_images = torch.cat([batch for batch, _ in images.batches(positions, 256)])
        class_indices = [group[0] for group in class_map.groups]
        runs = iter(range(10**6))
        steps = {}

        def plain():
            steps["plain"] = plain_loop(copy.deepcopy(initial), uint8_images, labels, preprocess, class_indices,
                                        without_checkpoints, device)

        def rib(settings, name):
            def run():
                steps[name] = rib_fine_tune(copy.deepcopy(initial), images, positions, labels.numpy(), preprocess,
                                            class_map, settings, device, tmp / f"work-{next(runs)}")
            return run

        times = rotate({"plain loop": plain, "rib, no checkpoints": rib(without_checkpoints, "rib-nockpt"),
                        "rib": rib(with_checkpoints, "rib")}, args.repeat)

    assert len(set(steps.values())) == 1, f"the loops took different numbers of steps: {steps}"
    n = steps["plain"] * args.batch_size  # every step of these runs is a full batch when images % batch == 0
    print(f"{args.model} (random init) at {size}px, {len(samples)} images, batch {args.batch_size}, "
          f"{args.epochs} epochs = {steps['plain']} steps, {torch.get_num_threads()} torch thread(s), "
          f"{args.repeat} rounds:")
    for name, t in times.items():
        print(f"  {name:<20} {rate(n, t):8.1f} images/s  ({t.describe()})")
    plain_t, bare_t, full_t = times["plain loop"], times["rib, no checkpoints"], times["rib"]
    for name, t in times.items():
        report.figure(f"{name} images/s", rate(n, t), "img/s")
    overhead = ratio(bare_t, plain_t)
    report.figure("rib (no checkpoints) / plain loop", overhead, "x", target=">= 1.0 within noise (0.97)",
                  ok=overhead >= 0.97)
    report.figure("rib (no checkpoints) / plain, CPU seconds", cpu_ratio(bare_t, plain_t), "x")
    report.figure("rib (with epoch checkpoints) / plain loop", ratio(full_t, plain_t), "x")
    checkpoint_s = median([f - b for f, b in zip(full_t.wall, bare_t.wall)]) / args.epochs
    report.figure("epoch checkpoint seconds", checkpoint_s, "s",
                  note=f"{sum(p.numel() for p in initial.parameters()) / 1e6:.1f}M parameters")
    report.timings(times)
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
