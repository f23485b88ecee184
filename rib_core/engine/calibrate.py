"""What `rib bench --dry-run` measures here: each model of the suite, and what the run pays outside the models.

Models. A backbone plugin may register an `architecture` target next to its loader: `architecture(name, *,
options)` returning `(module, input_size)`, the model with random weights, built without any download. Its
parameter count (from a build on torch's meta device, rib_core/engine/compat.py) sizes each fine-tuned weights
file; a real build is timed: inference and training steps as the run makes them (uint8 images normalised,
forward, top-5 / cross-entropy, backward, gradient norm, SGD with momentum), at the run's own batch sizes, or the
largest whose step stays short (a ViT-B/16 training step on a CPU), and never below the smallest batch the model
accepts (a BatchNorm1d refuses a training batch of 1: the next batch up is tried). A model that cannot be timed
says why; nothing is swallowed.

The rest of a run. Its start-up (this process's own, up to the calibration), writing each file durably (a
small file fsync'd and renamed, and the write rate of a larger one, in the results directory's filesystem), and
decoding images into the cache (a few of each dataset's own files, decoded here).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelCost:
    label: str
    parameters: int | None  # from the model itself; None: unknown (see size_source)
    input_size: int | None
    size_source: str = ""  # "architecture", or why the size is unknown
    eval_images_per_s: float | None = None  # None: not timed (see not_timed)
    train_images_per_s: float | None = None
    eval_batch: int | None = None  # the batches the rates were measured at
    train_batch: int | None = None
    not_timed: str = ""  # why the rates are not measured ("--no-calibrate", the error, ...)


@dataclass
class RunCost:
    """What a run pays outside the models, measured here (None: not measured, the caller uses its table)."""

    startup_s: float | None = None
    file_write_s: float | None = None  # one small file, written durably
    write_bytes_per_s: float | None = None
    decode_images_per_s: dict[str, float] = field(default_factory=dict)  # per dataset label, one process
    notes: list[str] = field(default_factory=list)


class CalibrationError(Exception):
    """A model that cannot be timed: the message says why."""


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
            call_seconds: float = 0.5) -> tuple[float, int, float, int]:
    """(inference images/s, its batch, training images/s, its batch) of `module` at `input_size` on `device`.

    For each, the batch doubles from 1 up to the run's own, stopping once one call takes more than
    `call_seconds`: there images/s barely depends on the batch, and calibration stays short. A batch the model
    refuses (BatchNorm in training with one image) is skipped; out of memory keeps the last batch that fitted.
    Raises CalibrationError when no batch works.
    """
    import torch
    import torch.nn.functional as F

    from rib_core.engine.evaluate import autocast

    module = module.to(device)
    precision = "bf16" if amp and device.type == "cuda" else None
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0, momentum=0.9)  # a real step's work; lr 0: no change
    params = [p for p in module.parameters() if p.requires_grad]
    mean = torch.full((1, 3, 1, 1), 0.5, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def normalised(x):
        return x.float().div_(255.0).sub_(mean).div_(mean)

    def forward(x):
        with torch.no_grad(), autocast(device, precision):
            out = module(normalised(x))
        out.float().softmax(dim=-1).topk(min(5, out.shape[-1]), dim=-1)

    def train_step(x):
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            out = module(normalised(x))
        labels = torch.zeros(out.shape[0], dtype=torch.long, device=device)
        F.cross_entropy(out.float(), labels).backward()
        grads = [p.grad for p in params if p.grad is not None]
        if grads:
            torch.nn.utils.get_total_norm(grads).item()
        optimizer.step()

    results = []
    for fn, target, training in ((forward, eval_batch, False), (train_step, train_batch, True)):
        module.train(training)
        batch, fitted, error = 1, None, None
        while True:
            x = torch.randint(0, 256, (batch, 3, input_size, input_size), dtype=torch.uint8, device=device)
            took = 0.0
            try:
                sync()
                start = time.perf_counter()
                fn(x)
                sync()
                took = time.perf_counter() - start
                fitted, error = batch, None
            except torch.OutOfMemoryError as exc:
                error = exc
                break
            except Exception as exc:  # e.g. "Expected more than 1 value per channel when training": next batch
                error = exc
            if batch >= target or took > call_seconds:
                break
            batch = min(2 * batch, target)
        if fitted is None:
            what = "a training step" if training else "inference"
            detail = (str(error).strip().splitlines() or [""])[0]
            raise CalibrationError(f"{what} failed at every batch size from 1 to {target} "
                                   f"({type(error).__name__}: {detail})")
        x = torch.randint(0, 256, (fitted, 3, input_size, input_size), dtype=torch.uint8, device=device)
        results += [_rate(lambda: fn(x), fitted, sync), fitted]
    module.eval()
    return tuple(results)


def model_costs(prepared, device_type: str, timed: bool = True) -> dict[str, ModelCost]:
    """Per model label: its parameter count and input size (from its architecture on the meta device), and
    (timed) its measured rates here, or why there are none."""
    import torch

    from rib_core.engine.compat import planning_info

    settings, suite = prepared.settings, prepared.suite
    if device_type == "cpu" and suite.cpu_threads:
        torch.set_num_threads(suite.cpu_threads)  # what the run itself will use
    device = torch.device(device_type)
    costs: dict[str, ModelCost] = {}
    measured: dict[tuple, tuple] = {}  # the paper's seven ViT-B/16s are one architecture: timed once
    for model in prepared.models:
        info = planning_info(prepared.registry, model.spec)
        cost = ModelCost(model.label, info.parameters, info.input_size, info.source)
        costs[model.label] = cost
        if info.module is None:
            cost.not_timed = info.source
            continue
        if not timed:
            cost.not_timed = "--no-calibrate"
            continue
        same = (type(info.module).__name__, cost.parameters, cost.input_size)
        if same not in measured:
            measured[same] = _time_model(prepared, model.spec, device, settings, suite)
        result = measured[same]
        if isinstance(result, str):
            cost.not_timed = result
        else:
            cost.eval_images_per_s, cost.eval_batch, cost.train_images_per_s, cost.train_batch = result
    return costs


def _time_model(prepared, spec, device, settings, suite):
    """The measured rates, or a string saying why there are none."""
    build = prepared.registry.get("models", spec.name).load_extra("architecture")
    try:
        module, size = build(spec.name, options=dict(spec.options))
    except Exception as exc:
        return f"its architecture= failed ({type(exc).__name__}: {exc})"
    try:
        return measure(module, int(size), device, eval_batch=suite.eval_batch_size, train_batch=settings.batch_size,
                       amp=bool(settings.amp))
    except CalibrationError as exc:
        return str(exc)
    finally:
        del module


# -- the rest of a run ----------------------------------------------------------------------------------------
def process_seconds() -> float | None:
    """Seconds since this process started (Linux; None elsewhere): the dry run's start-up is the run's."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def writing_costs(out: Path) -> tuple[float, float]:
    """(seconds per small file written durably, bytes/s of a 4 MB one) in the filesystem of `out`."""
    from rib_core.engine.store import atomic_write_bytes

    where = Path(out)
    while not where.exists() and where != where.parent:
        where = where.parent
    with tempfile.TemporaryDirectory(prefix=".rib-calibrate-", dir=where) as folder:
        small = []
        for i in range(3):
            start = time.perf_counter()
            atomic_write_bytes(Path(folder) / f"small-{i}.json", b"{}")
            small.append(time.perf_counter() - start)
        big = os.urandom(4 << 20)
        start = time.perf_counter()
        atomic_write_bytes(Path(folder) / "big.bin", big)
        big_s = time.perf_counter() - start
    small_s = sorted(small)[1]
    return small_s, len(big) / max(big_s - small_s, 1e-6)


def decode_rates(prepared, sizes: list[int], images: int = 8) -> dict[str, float]:
    """Images/s that one process decodes (and resizes) each dataset's own files at, from its first few images:
    what building its decoded-image cache costs per image (rib_core/data/decode.py does the same per image)."""
    from rib_core.preprocess import Preprocess

    rates = {}
    side = max(sizes) if sizes else 224
    preprocess = Preprocess(input_size=side, resize_size=side)
    for ds in prepared.datasets + ([prepared.reference] if prepared.reference else []):
        if not ds.samples or ds.adapter is None:
            continue
        chosen = ds.samples[:images]
        try:
            preprocess.to_uint8(ds.adapter.open_image(chosen[0].path))  # warm-up: PIL loads its decoders
            start = time.perf_counter()
            for sample in chosen:
                preprocess.to_uint8(ds.adapter.open_image(sample.path))
            rates[ds.label] = len(chosen) / max(time.perf_counter() - start, 1e-6)
        except Exception:  # an unreadable file is the run's to report; the estimate uses the table for it
            continue
    return rates


def run_costs(prepared, out: Path, sizes: list[int], timed: bool = True) -> RunCost:
    cost = RunCost(startup_s=process_seconds())
    if not timed:
        return cost
    try:
        cost.file_write_s, cost.write_bytes_per_s = writing_costs(out)
    except OSError as exc:
        cost.notes.append(f"file writes not timed ({exc.strerror or exc})")
    cost.decode_images_per_s = decode_rates(prepared, sizes)
    return cost
