"""The toy world of `rib_core.testing`: a suite `rib bench` runs offline in a few seconds.

Built from the embedded demo (docs/demo.md), cut down: one demo ViT with seeded, untrained weights (no
pretraining), two demo domains and the demo's reference domain, 40 images each (half fine-tuned on), one epoch.
The numbers mean nothing (an untrained model predicts one class: 10% everywhere); what it tests is that a
strategy, metric, format or launcher runs end to end through the real engine, cache and report.
"""

from __future__ import annotations

from pathlib import Path

from rib_core.config import suite_text, toml_value  # noqa: F401 - the one suite writer, kept importable here

MODEL = "demo/narrow"
DATASETS = ("demo-photo", "demo-sketch")
REFERENCE = "demo-source"
IMAGES = 40  # per dataset, class-balanced (the demo has 10 classes)
SETTINGS = {"seed": 0, "split": 0.5, "eval_batch_size": 64, "cpu_threads": 1}
TRAINING = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "epochs": 1, "warmup_steps": 1, "batch_size": 10}


def make_world(folder: Path) -> Path:
    """Write the toy world's data and weights into `folder` (once: they are only ever read); return it."""
    import torch
    from safetensors.torch import save_file

    from rib_core.demo import backbones
    from rib_core.demo.datasets import domain_of, generate_domain

    folder = Path(folder)
    for name in (*DATASETS, REFERENCE):
        generate_domain(domain_of(name), folder / name)  # about half a second each, no download
    weights = folder / "model.safetensors"
    if not weights.is_file():
        with torch.random.fork_rng(devices=[]):
            model = backbones.build_model(seed=0)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(weights))
    return folder


def write_suite(path: Path, world: Path, strategies=("lp",), *, metrics=None, training=None, name="toy",
                **keys) -> Path:
    """Write the toy suite `name` to `path`; keyword arguments override its top-level keys and [training]."""
    world = Path(world)
    suite = {
        "description": "rib_core.testing's toy suite: the demo, cut down to seconds",
        "models": [{"name": MODEL, "weights": world / "model.safetensors"}],
        "datasets": [{"name": d, "path": world / d, "max_images": IMAGES} for d in DATASETS],
        "reference": {"name": REFERENCE, "path": world / REFERENCE, "max_images": IMAGES},
        "strategies": list(strategies),
        **SETTINGS,
        **({} if metrics is None else {"metrics": list(metrics)}),
        **keys,
    }
    path = Path(path)
    path.write_text(suite_text(name, suite, {**TRAINING, **(training or {})}))
    return path
