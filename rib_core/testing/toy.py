"""The toy world of `rib_core.testing`: data, models and suites that `rib bench` runs offline in seconds.

Two scales, one module:

- **The toy plugin** (`tiny/*` models, `toy-*` datasets): 4-class colour images of 8 x 8 pixels in noisy
  "domains" toy-a, toy-b, toy-c and the reference toy-ref, and tiny MLP backbones pretrained in milliseconds.
  A whole grid runs in about a second: what rib's engine, reliability and launcher tests use. Register it for
  a test with `install(tmp_path, monkeypatch, register_plugin)` (or the `toy_env` fixture of rib's tests);
  `grid_suite` writes a suite over it; `entry_point_site` makes it an installed distribution for tests that run
  `python -m rib_core` in a subprocess.
- **The toy suite** (`toy_suite` fixture, `write_suite`): the embedded demo (docs/demo.md) cut down: one demo ViT
  with seeded, untrained weights (no pretraining), two demo domains and the demo's reference domain, 40 images
  each (half fine-tuned on), one epoch. For plugin authors whose strategy needs a real timm ViT.

The numbers of either mean nothing (the demo ViT is untrained; the MLPs barely trained); what they test is that
a strategy, metric, format or launcher runs end to end through the real engine, cache and report.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rib_core.api import CheckResult, ClassMap, DatasetAdapter, Preprocess, Sample, hookimpl
from rib_core.config import suite_text, toml_value  # noqa: F401 - the one suite writer, kept importable here

# -- the toy plugin -------------------------------------------------------------------------------------------
CLASSES = ("red", "green", "blue", "grey")
DOMAINS = {"toy-a": 0.15, "toy-b": 0.35, "toy-c": 0.55, "toy-ref": 0.1}  # noise level per domain
SIZE = 8


@hookimpl
def register_datasets(register):
    register("toy-*", "rib_core.testing.toy:ToyDataset", "toy colour domains (tests)")


@hookimpl
def register_models(register):
    register("tiny/*", "rib_core.testing.toy:load", "tiny MLPs (tests)", label_space="toy",
             identity="rib_core.testing.toy:identity")


def identity(name, *, weights, options):
    """The tiny models are 'pretrained' deterministically from their name (load): the name is their identity."""
    return f"{name}@toy"


def write_domain(root: Path, name: str, per_class: int = 10, seed: int = 0) -> Path:
    """Write the toy domain `name` (`per_class` PNGs per colour) to root/name; same arguments, same bytes."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng([seed, sorted(DOMAINS).index(name)])
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]])
    folder = Path(root) / name
    for c, cls in enumerate(CLASSES):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = colours[c] * 0.7 + rng.normal(0, DOMAINS[name], (SIZE, SIZE, 3)) + 0.15
            Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(folder / cls / f"{i:03d}.png")
    return folder


class ToyDataset(DatasetAdapter):
    """A toy domain, read from $RIB_TOY_DATA/<adapter name> (what `install` writes)."""

    folder_names = ()

    def __init__(self, label, root, options=None):
        super().__init__(label, root, options)
        base = Path(os.environ["RIB_TOY_DATA"])
        self.root = base / self.options.get("adapter", label)

    def class_map(self):
        return ClassMap("toy", CLASSES, tuple((i,) for i in range(len(CLASSES))))

    def samples(self):
        return [Sample(f"{cls}/{p.name}", c) for c, cls in enumerate(CLASSES)
                for p in sorted((self.root / cls).glob("*.png"))]

    def check(self, deep=False):
        n = len(self.samples())
        return CheckResult(self.label, True, str(self.root), images=n, classes=4, verdict="ok" if n else "missing")


def install(tmp_path: Path, monkeypatch, register_plugin, domains=tuple(DOMAINS), per_class: int = 10) -> Path:
    """The toy world of a test: `domains` written under tmp_path/data, rib's cache in tmp_path/cache, this
    plugin registered (with the `register_plugin` fixture). Returns tmp_path."""
    data = tmp_path / "data"
    for name in domains:
        write_domain(data, name, per_class=per_class)
    monkeypatch.setenv("RIB_TOY_DATA", str(data))
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    register_plugin(sys.modules[__name__], "toy")
    return tmp_path


def load(name, *, weights, options):
    """tiny/a, tiny/b (or any tiny/*): an MLP on 8 x 8 images, "pretrained" deterministically in a few ms.
    RIB_TOY_STEP_SLEEP=seconds slows each training step down, so that a test can kill a run mid-fine-tune."""
    import torch
    from torch import nn

    from rib_core.api import Backbone

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 16), nn.ReLU())
            self.head = nn.Linear(16, len(CLASSES))

        def forward(self, x):
            if self.training and self.slow_steps and os.environ.get("RIB_TOY_STEP_SLEEP"):
                time.sleep(float(os.environ["RIB_TOY_STEP_SLEEP"]))  # lets a test kill a run mid-fine-tune
            return self.head(self.features(x))

    torch.manual_seed({"tiny/a": 1, "tiny/b": 2}.get(name, 3))
    model = TinyNet()
    model.slow_steps = False  # the sleep is for fine-tuning steps, not for this "pretraining" in every load
    # "Pretrain" deterministically: a few steps on clean colours, so pretrained accuracy is well above chance.
    colours = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]]) * 0.7 + 0.15
    x = colours.repeat_interleave(8, 0)[:, :, None, None].expand(-1, 3, SIZE, SIZE)
    x = (x - 0.5) / 0.5 + torch.randn(x.shape) * (0.3 if name == "tiny/a" else 0.8)
    y = torch.arange(4).repeat_interleave(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.slow_steps = True
    return Backbone(model=model, preprocess=Preprocess(SIZE, SIZE, "nearest", (0.5,) * 3, (0.5,) * 3),
                    head_prefixes=("head.",), identity=f"{name}@toy", num_classes=4)


GRID_TRAINING = {"lr": 0.05, "epochs": 2, "warmup_steps": 1, "batch_size": 8}


def grid_suite(path: Path, *, models=("tiny/a", "tiny/b"), datasets=("toy-a", "toy-b", "toy-c"),
               reference: str | None = "toy-ref", strategies=("ft", "lp"), training=None, name: str = "toy",
               **keys) -> Path:
    """Write a suite over the toy plugin to `path`: by default both tiny models, the three toy domains and toy-ref,
    ft and lp, evaluation batches of 16, two epochs of batches of 8 at lr 0.05. `training={...}` overrides
    [training] keys, other keywords the suite's keys (a value None leaves that key out)."""
    suite = {"models": list(models), "datasets": list(datasets), "reference": reference,
             "strategies": list(strategies), "eval_batch_size": 16, **keys}
    path = Path(path)
    path.write_text(suite_text(name, {k: v for k, v in suite.items() if v is not None},
                               {**GRID_TRAINING, **(training or {})}))
    return path


def entry_point_site(folder: Path, module_source: str | None = None) -> Path:
    """`folder` as a site directory in which the toy plugin is an installed distribution, rib-toy (entry point
    "toy"), for a `python -m rib_core` subprocess with `folder` on PYTHONPATH. `module_source`: the source of the
    entry point's module (default: the toy plugin itself; it can add hooks after `from rib_core.testing.toy
    import *`). Returns `folder`."""
    folder = Path(folder)
    info = folder / "rib_toy-0.1.dist-info"
    if not info.is_dir():
        info.mkdir(parents=True)
        (folder / "rib_toy_entry.py").write_text(module_source or "from rib_core.testing.toy import *  # noqa: F403\n")
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rib-toy\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[rib]\ntoy = rib_toy_entry\n")
    return folder


# -- tiny real architectures ----------------------------------------------------------------------------------------
# Keyword overrides that make the real architectures tiny (random weights saved to a file, loaded through the real
# loaders): a suite's `model_kwargs`, timm.create_model(...) or open_clip.create_model(...).
TINY_TIMM_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2, "img_size": 32}  # a ViT-B/16 of timm, 32 px
TINY_OPEN_CLIP = {  # open_clip's ViT-B-16 CLIP, 32 px, a 16-token text tower
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


__all__ = ["CLASSES", "DOMAINS", "SIZE", "register_datasets", "register_models", "write_domain", "ToyDataset",
           "install", "load", "grid_suite", "entry_point_site", "TINY_TIMM_VIT", "TINY_OPEN_CLIP", "make_world", "write_suite", "suite_text",
           "toml_value"]


# -- the toy suite: the demo, cut down --------------------------------------------------------------------------
MODEL = "demo/narrow"
DATASETS = ("demo-photo", "demo-sketch")
REFERENCE = "demo-source"
IMAGES = 40  # per dataset, class-balanced (the demo has 10 classes)
SETTINGS = {"seed": 0, "split": 0.5, "eval_batch_size": 64, "cpu_threads": 1}
TRAINING = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "epochs": 1, "warmup_steps": 1, "batch_size": 10}


def make_world(folder: Path) -> Path:
    """Write the toy suite's data and weights into `folder` (once: they are only ever read); return it."""
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
