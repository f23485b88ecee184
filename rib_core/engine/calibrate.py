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
    target = registry.get("backbones", spec.name).extra.get("architecture")
    if not target:
        return None
    from rib_core.plugins import Registration

    build = Registration("backbones", spec.name, target, "", registry.get("backbones", spec.name).plugin).load()
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


def measure(module, input_size: int, device, *, eval_batch: int, train_batch: int, amp: bool):
    """(inference, training) images/s of `module` at `input_size` on `device`: a few seconds at most."""
    import torch

    module = module.to(device)
    use_amp = amp and device.type == "cuda"
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    x_eval = torch.randn(eval_batch, 3, input_size, input_size, device=device)
    x_train = torch.randn(train_batch, 3, input_size, input_size, device=device)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0)  # a real step's work; lr 0 keeps the weights

    def forward():
        with torch.no_grad(), autocast:
            module(x_eval)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            out = module(x_train)
        out.float().logsumexp(dim=-1).mean().backward()
        optimizer.step()

    module.eval()
    eval_rate = _rate(forward, eval_batch, sync)
    module.train()
    train_rate = _rate(train_step, train_batch, sync)
    module.eval()
    return eval_rate, train_rate


def model_costs(prepared, device_type: str, timed: bool = True) -> dict[str, ModelCost | None]:
    """Per model label: its parameter count and input size, and (timed) its measured rates here."""
    import torch

    settings, suite = prepared.settings, prepared.suite
    if device_type == "cpu" and suite.cpu_threads:
        torch.set_num_threads(suite.cpu_threads)  # what the run itself will use
    device = torch.device(device_type)
    small = device.type == "cpu"
    costs: dict[str, ModelCost | None] = {}
    for model in prepared.models:
        built = architecture(prepared.registry, model.spec)
        if built is None:
            costs[model.label] = None
            continue
        module, size = built
        cost = ModelCost(model.label, sum(p.numel() for p in module.parameters()), int(size))
        if timed:
            eval_batch = min(suite.eval_batch_size, 16 if small else 256)
            try:
                cost.eval_images_per_s, cost.train_images_per_s = measure(
                    module, size, device, eval_batch=eval_batch, train_batch=settings.batch_size,
                    amp=bool(settings.amp))
            except Exception:  # out of memory, unsupported device...: untimed, the caller says so
                pass
        costs[model.label] = cost
        del module
    return costs
