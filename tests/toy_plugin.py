"""A tiny, fast plugin for engine tests: 4-class colour images in 3 'domains', and two tiny MLP backbones.

Registered for a test with the `register_plugin` fixture, or discovered in a subprocess through a fake
distribution whose entry point names this module (tests/helpers.py: fake_distribution).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from rib_core.api import CheckResult, ClassMap, DatasetAdapter, Preprocess, Sample, hookimpl

CLASSES = ("red", "green", "blue", "grey")
DOMAINS = {"toy-a": 0.15, "toy-b": 0.35, "toy-c": 0.55, "toy-ref": 0.1}  # noise level per domain
SIZE = 8


@hookimpl
def register_datasets(register):
    register("toy-*", "tests.toy_plugin:ToyDataset", "toy colour domains (tests)")


@hookimpl
def register_models(register):
    register("tiny/*", "tests.toy_plugin:load", "tiny MLPs (tests)", label_space="toy",
             identity="tests.toy_plugin:identity")


def identity(name, *, weights, options):
    """The tiny models are 'pretrained' deterministically from their name (load): the name is their identity."""
    return f"{name}@toy"


def write_domain(root: Path, name: str, per_class: int = 10, seed: int = 0) -> Path:
    from PIL import Image

    rng = np.random.default_rng([seed, sorted(DOMAINS).index(name)])
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]])
    folder = root / name
    for c, cls in enumerate(CLASSES):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = colours[c] * 0.7 + rng.normal(0, DOMAINS[name], (SIZE, SIZE, 3)) + 0.15
            Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(folder / cls / f"{i:03d}.png")
    return folder


class ToyDataset(DatasetAdapter):
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
    import torch
    from torch import nn

    from rib_core.api import Backbone

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 16), nn.ReLU())
            self.head = nn.Linear(16, len(CLASSES))

        def forward(self, x):
            if self.training and os.environ.get("RIB_TOY_STEP_SLEEP"):
                time.sleep(float(os.environ["RIB_TOY_STEP_SLEEP"]))  # lets a test kill a run mid-fine-tune
            return self.head(self.features(x))

    torch.manual_seed({"tiny/a": 1, "tiny/b": 2}.get(name, 3))
    model = TinyNet()
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
    return Backbone(model=model, preprocess=Preprocess(SIZE, SIZE, "nearest", (0.5,) * 3, (0.5,) * 3),
                    head_prefixes=("head.",), identity=f"{name}@toy", num_classes=4)
