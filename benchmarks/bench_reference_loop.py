"""rib's evaluation on a warm cache vs the same evaluation written the way the reference code does it.

    python benchmarks/bench_reference_loop.py [--model vit_tiny_patch16_224] [--input-size 224] [--images 64]
                                              [--batch-size 32] [--workers 1] [--threads 1] [--repeat 5] [--json F]

The reference code (FieteLab/ImageNet-RIB, lib/evaluate.py + lib/experiment.py:validate) evaluates every dataset
with torchvision's ImageFolder and a transform pipeline, a DataLoader with worker processes, the model in fp32
under no_grad, the dataset's class mask applied to the logits, and per-batch loss/accuracy read back with
.item(). Every pass decodes every JPEG again, and so does every model and every fine-tuned checkpoint.

Both sides here evaluate the same JPEG tree with the same geometry (resize the shorter side to input/0.9,
bicubic, centre crop, ImageNet mean/std) and the same randomly initialised model, timed in rotation. rib's side
is `predict()` on a cache that is already built (the state of every evaluation after a dataset's first).
Prints images/s of both, the ratio rib / reference, and how often their top-1 predictions agree (the pipelines
differ only in how the resize rounds a side length and in float rounding, so agreement is high, not total).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import Report, cpu_ratio, imagenet_r, rate, ratio, rotate, seconds, set_threads, timm_model, write_jpeg_tree


def reference_labels(samples, class_map) -> tuple[list[int], list[int]]:
    """(mask, folder_to_class) for reference_loop: the reference masks the logits to the dataset's classes
    (imagenet_r_mask: 200 ImageNet-1k indices); ImageFolder numbers only the folders present, so its labels
    are mapped onto those classes."""
    mask = [group[0] for group in class_map.groups]
    present = sorted({s.path.split("/")[0] for s in samples})
    return mask, [list(class_map.names).index(wnid) for wnid in present]


def reference_loop(model, tree: Path, preprocess, mask, folder_to_class, batch_size: int, workers: int,
                   device=None):
    """One evaluation pass as the reference code writes it; returns the top-1 predictions in file order.

    `mask`: the ImageNet-1k logits of the dataset's classes (imagenet_r_mask in the reference code);
    `folder_to_class`: ImageFolder's label -> index into `mask` (the identity on a complete ImageNet-R tree).
    """
    import torch
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    transform = transforms.Compose([
        transforms.Resize(preprocess.resize_size, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(preprocess.input_size),
        transforms.ToTensor(),
        transforms.Normalize(preprocess.mean, preprocess.std),
    ])
    dataset = ImageFolder(str(tree), transform=transform)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, pin_memory=device.type == "cuda",
                                         num_workers=workers, shuffle=False)
    mask = torch.tensor(mask, device=device)
    folder_to_class = torch.tensor(folder_to_class, device=device)
    criterion = torch.nn.CrossEntropyLoss()
    model.eval()
    predictions, losses, correct = [], [], 0
    with torch.no_grad():
        for images, target in loader:
            images, target = images.to(device), folder_to_class[target.to(device)]
            output = model(images)[:, mask]
            loss = criterion(output, target)
            losses.append(loss.item())
            hits = output.argmax(dim=1) == target
            correct += hits.sum().item()
            predictions.append(output.argmax(dim=1).cpu())
    return torch.cat(predictions)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vit_tiny_patch16_224")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from rib_core.data.images import open_images
    from rib_core.engine.evaluate import predict
    from rib_core.preprocess import Preprocess

    set_threads(args.threads)
    size = args.input_size
    preprocess = Preprocess(input_size=size, resize_size=round(size / 0.9), interpolation="bicubic")
    model = timm_model(args.model, size).eval()
    report = Report("reference_loop", vars(args))

    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        tree = write_jpeg_tree(Path(tmp), args.images)
        adapter, samples = imagenet_r(tree)
        n = len(samples)
        class_map = adapter.class_map()
        mask, folder_to_class = reference_labels(samples, class_map)
        build_s = seconds(lambda: open_images(adapter, samples, preprocess, Path(tmp) / "cache", workers=args.workers))
        cached = open_images(adapter, samples, preprocess, Path(tmp) / "cache")
        positions = np.arange(n)
        outputs = {}

        def rib():
            outputs["rib"] = predict(model, preprocess, cached, positions, class_map, torch.device("cpu"),
                                     args.batch_size)

        def reference():
            outputs["reference"] = reference_loop(model, tree, preprocess, mask, folder_to_class,
                                                  args.batch_size, args.workers, torch.device("cpu"))

        times = rotate({"reference loop": reference, "rib, warm cache": rib}, args.repeat)

    # Both are indices into ImageNet-R's 200 classes, in path order (rib's samples and ImageFolder's agree).
    rib_top1 = outputs["rib"]["top_idx"][:, 0].numpy()
    agreement = float((rib_top1 == outputs["reference"].numpy()).mean())

    print(f"{n} JPEGs 500x375 -> {size}px, {args.model} (random init), batch {args.batch_size}, "
          f"{args.workers} worker(s), {torch.get_num_threads()} torch thread(s), {args.repeat} rounds:")
    for name, t in times.items():
        print(f"  {name:<16} {rate(n, t):8.1f} images/s  ({t.describe()})")
    ref_t, rib_t = times["reference loop"], times["rib, warm cache"]
    report.figure("reference loop images/s", rate(n, ref_t), "img/s")
    report.figure("rib warm cache images/s", rate(n, rib_t), "img/s")
    report.figure("rib / reference loop", ratio(rib_t, ref_t), "x", target="> 1", ok=ratio(rib_t, ref_t) > 1)
    report.figure("rib / reference loop, CPU seconds", cpu_ratio(rib_t, ref_t), "x",
                  note="counts the reference's decoding workers too")
    report.figure("cache build, once per dataset, images/s", n / build_s, "img/s")
    report.figure("top-1 agreement rib vs reference", 100 * agreement, "%")
    report.timings(times)
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
