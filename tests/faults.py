"""A plugin with faults on demand, for the reliability tests: a loader that raises, a target that cannot be
imported, a model that runs out of memory above a batch size, a strategy whose loss turns NaN or inf, and dataset
adapters that crash while decoding or listing. The `small_toy_env` fixture (tests/conftest.py) registers it
beside the toy plugin as "rib-test-faults"."""

from __future__ import annotations

import torch

from rib_core.api import Option, Strategy, hookimpl
from rib_core.testing import toy


class FaultsPlugin:
    @hookimpl
    def register_models(self, register):
        register("broken/*", "tests.faults:load_broken", "raises inside its loader (tests)", label_space="toy")
        register("ghost/*", "rib_no_such_module_anywhere:load", "a target that cannot be imported (tests)",
                 label_space="toy")
        register("oom/*", "tests.faults:load_oom", "tiny/a that runs out of memory above a batch size",
                 label_space="toy")

    @hookimpl
    def register_strategies(self, register):
        register("diverge", "tests.faults:Diverge", "ft whose loss turns NaN or inf at a step")

    @hookimpl
    def register_datasets(self, register):
        register("crashing-decoder", "tests.faults:CrashingDecoder", "toy-a whose open_image raises")
        register("crashing-listing", "tests.faults:CrashingListing", "toy-a whose samples() raises")


def load_broken(name, *, weights, options):
    raise RuntimeError("weights server unreachable")


class OutOfMemoryAbove(torch.nn.Module):
    """Wraps a model; in eval mode a batch larger than `limit` raises CUDA's out-of-memory error."""

    def __init__(self, inner, limit: int):
        super().__init__()
        self.inner, self.limit = inner, limit

    def forward(self, x):
        if not self.training and x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return self.inner(x)


def load_oom(name, *, weights, options):
    backbone = toy.load("tiny/a", weights=None, options={})  # the same weights as tiny/a
    backbone.model = OutOfMemoryAbove(backbone.model, int(name.split("/")[1]))
    backbone.head_prefixes = ("inner.head.",)
    backbone.identity = f"{name}@toy"
    return backbone


class CrashingDecoder(toy.ToyDataset):
    """toy-a's images, but the adapter's own decoding code fails (a bug in a dataset plugin)."""

    def __init__(self, label, root, options=None):
        super().__init__(label, root, options)
        self.root = self.root.parent / "toy-a"

    def open_image(self, path):
        raise RuntimeError("decoder crashed")


class CrashingListing(CrashingDecoder):
    def samples(self):
        raise RuntimeError("listing crashed")


class Diverge(Strategy):
    """Full fine-tuning whose loss becomes `value` ("nan" or "inf") from optimizer step `at_step` on."""

    name = "diverge"
    accepted_options = {"at_step": Option(int, default=2), "value": Option(str, default="nan")}

    def extra_loss(self, ctx, images, logits, labels):
        ctx.state["step"] = ctx.state.get("step", 0) + 1
        if ctx.state["step"] >= self.params["at_step"]:
            return torch.tensor(float(self.params["value"]))
        return None
