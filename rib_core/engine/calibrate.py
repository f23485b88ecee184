"""What `rib bench --dry-run` measures: each model of the suite, untrained, timed at its own input size here.

A backbone plugin may register an `architecture` target next to its loader: `architecture(name, *, options)`
returning `(module, input_size)`, the model with random weights, built without any download. A few forward
passes and training steps of it give this device's images/s for that model, and its parameter count gives the
size of each fine-tuned weights file. A model whose plugin has no `architecture` gets None (the caller falls back
to the documented table).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class ModelCost:
    label: str
    parameters: int
    input_size: int
    eval_images_per_s: float | None = None  # None: not timed (--no-calibrate)
    train_images_per_s: float | None = None


def architecture(registry, spec):
    """(module, input_size) of a suite's model entry, or None when its plugin cannot build one offline."""
    build = registry.get("models", spec.name).load_extra("architecture")
    if build is None:
        return None
    try:
        return build(spec.name, options=dict(spec.options))
    except Exception:
        return None  # a bad entry is reported by the plan's own checks; the estimate just falls back


def _rate(fn, batch: int, sync, min_seconds: float = 0.5, max_repeats: int = 20) -> float:
    """Images/s of `fn` over one batch: one warm-up call, then repeats until `min_seconds` have passed."""
    fn()
    sync()
    repeats, start = 0, time.perf_counter()
    while True:
        fn()
        repeats += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or repeats >= max_repeats:
            return repeats * batch / elapsed


def measure(module, input_size: int, device, *, eval_batch: int, train_batch: int, amp: bool,
            call_seconds: float = 0.5):
    """(inference, training) images/s of `module` at `input_size` on `device`: a few seconds at most.

    The batch doubles from 1 up to the run's own, stopping once one call takes more than `call_seconds` (a
    ViT-B/16 training step on a CPU): there images/s barely depends on the batch, and the check stays short.
    """
    import torch

    module = module.to(device)
    from rib_core.engine.evaluate import autocast

    precision = "bf16" if amp and device.type == "cuda" else None
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0)  # a real step's work; lr 0 keeps the weights

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def forward(x):
        with torch.no_grad(), autocast(device, precision):
            module(x)

    def train_step(x):
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            out = module(x)
        out.float().logsumexp(dim=-1).mean().backward()
        optimizer.step()

    rates = []
    for fn, target, training in ((forward, eval_batch, False), (train_step, train_batch, True)):
        module.train(training)
        batch = 1
        while True:  # double the batch up to the run's own while one call stays short
            x = torch.randn(batch, 3, input_size, input_size, device=device)
            sync()
            start = time.perf_counter()
            fn(x)
            sync()
            if batch >= target or time.perf_counter() - start > call_seconds:
                break
            batch = min(2 * batch, target)
        rates.append(_rate(lambda: fn(x), batch, sync))
    module.eval()
    return rates[0], rates[1]


def model_costs(prepared, device_type: str, timed: bool = True) -> dict[str, ModelCost | None]:
    """Per model label: its parameter count and input size, and (timed) its measured rates here."""
    import torch

    settings, suite = prepared.settings, prepared.suite
    if device_type == "cpu" and suite.cpu_threads:
        torch.set_num_threads(suite.cpu_threads)  # what the run itself will use
    device = torch.device(device_type)
    costs: dict[str, ModelCost | None] = {}
    measured: dict[tuple, tuple] = {}  # the paper's seven ViT-B/16s are one architecture: timed once
    for model in prepared.models:
        built = architecture(prepared.registry, model.spec)
        if built is None:
            costs[model.label] = None
            continue
        module, size = built
        cost = ModelCost(model.label, sum(p.numel() for p in module.parameters()), int(size))
        same = (type(module).__name__, cost.parameters, cost.input_size)
        if timed and same not in measured:
            try:
                measured[same] = measure(module, size, device, eval_batch=suite.eval_batch_size,
                                         train_batch=settings.batch_size, amp=bool(settings.amp))
            except Exception:  # out of memory, unsupported device...: untimed, the caller says so
                measured[same] = (None, None)
        if timed:
            cost.eval_images_per_s, cost.train_images_per_s = measured[same]
        costs[model.label] = cost
        del module
    return costs
