"""Shared helpers for rib's benchmarks: timing on a noisy machine, memory readings, synthetic data, reporting.

Timing: the machines these run on are shared (here: 2 cores and several other jobs), so every benchmark runs
the things it compares in rotation (A, B, C, A, B, C, ...) after one untimed warm-up each, records wall and CPU
seconds of every run. Rates (images/s) come from the best wall time (another job can only add time, never
remove it); ratios from the median over rounds of the ratio within a round (both runs of a round see the same
load). CPU seconds (this process and its reaped children, e.g. DataLoader workers) are immune to other jobs;
ratios of CPU medians are reported where one process does all the work.

Memory: read from /proc/self/status (Linux), no psutil needed.

    python benchmarks/common.py table DIR     # the summary table of the JSON files the benchmarks wrote to DIR
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py`: make rib_core and tests importable from the checkout
    sys.path.insert(0, str(REPO))


# -- timing ---------------------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Seconds per run of one timed thing: wall clock, and CPU (this process + its finished child processes)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """The fastest wall time: on a shared machine other jobs only ever add time, so this is the closest
        to what the hardware does."""
        return min(self.wall)

    @property
    def median(self) -> float:
        return median(self.wall)

    @property
    def cpu_median(self) -> float:
        return median(self.cpu)

    def describe(self) -> str:
        return (f"wall best {self.best:.3g} s, median {self.median:.3g} s (max {max(self.wall):.3g}); "
                f"cpu median {self.cpu_median:.3g} s")


def _cpu_now() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    cpu, wall = _cpu_now(), time.perf_counter()
    fn()
    return time.perf_counter() - wall, _cpu_now() - cpu


def seconds(fn) -> float:
    return timed(fn)[0]


def rotate(fns: dict, repeat: int, warmup: bool = True) -> dict[str, Timing]:
    """{name: Timing}; the functions run in rotation (A, B, C, A, B, C, ...), each warmed up once (untimed) first."""
    if warmup:
        for fn in fns.values():
            fn()
    times = {name: Timing() for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            wall, cpu = timed(fn)
            times[name].wall.append(wall)
            times[name].cpu.append(cpu)
    return times


def median(values) -> float:
    return float(statistics.median(values))


def rate(count: int, timing: Timing) -> float:
    """Items per second at the best wall time."""
    return count / timing.best


def ratio(a: Timing, b: Timing) -> float:
    """Throughput of `a` / throughput of `b` for the same work (> 1: a is faster): the median over rounds of
    b's time / a's time in the same round. Runs of one round are seconds apart and see the same load, so one
    lucky or unlucky run moves the median little (a ratio of best times would follow the one lucky run)."""
    return median([tb / ta for ta, tb in zip(a.wall, b.wall)])


def cpu_ratio(a: Timing, b: Timing) -> float:
    """The same from median CPU seconds: immune to other jobs, but blind to parallelism (use it where one
    process does all the work)."""
    return b.cpu_median / a.cpu_median


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


# -- memory (Linux /proc) --------------------------------------------------------------------------------------
def proc_status_mb(field: str) -> float:
    """A kB field of /proc/self/status (VmHWM, VmRSS, RssAnon, RssFile, ...) in MiB; NaN where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- synthetic data -------------------------------------------------------------------------------------------
def write_jpeg_tree(root: Path, n_images: int, *, width: int = 500, n_classes: int = 8, distinct: int = 32,
                    quality: int = 90, seed: int = 0) -> Path:
    """An ImageNet-R style tree (`<wnid>/<name>.jpg`) of `n_images` JPEGs, `width` x 3/4 width, like photos.

    Only `distinct` pictures are drawn (class patterns from rib_core.data.fixtures); the files repeat their
    bytes, which costs decoding exactly as much as distinct files would and keeps writing large trees fast.
    Returns the dataset folder (`root / "imagenet-r"`).
    """
    import io

    import numpy as np
    from PIL import Image

    from rib_core.data.fixtures import class_pattern, fixture_classes
    from rib_core.data.imagenet_classes import imagenet_wnids

    tree = Path(root) / "imagenet-r"
    classes = fixture_classes("imagenet-r", n_classes)
    wnids = imagenet_wnids()
    rng = np.random.default_rng(seed)
    encoded = []
    for i in range(min(distinct, n_images)):
        buffer = io.BytesIO()
        pixels = class_pattern(classes[i % n_classes], width, width * 3 // 4, "photo", rng)
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
        encoded.append(buffer.getvalue())
    for i in range(n_images):
        folder = tree / wnids[classes[i % n_classes]]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"photo_{i:06d}.jpg").write_bytes(encoded[i % len(encoded)])
    return tree


def imagenet_r(tree: Path):
    """rib's ImageNet-R adapter over a tree written by write_jpeg_tree, and its samples."""
    from rib_core.data.imagenet_variants import ImageNetR

    adapter = ImageNetR("imagenet-r", tree)
    return adapter, adapter.samples()


def timm_model(name: str, img_size: int, seed: int = 0):
    """A randomly initialised timm model at `img_size` (no weights are downloaded)."""
    import timm
    import torch

    torch.manual_seed(seed)
    kwargs = {"img_size": img_size} if "vit" in name or "deit" in name else {}
    return timm.create_model(name, pretrained=False, **kwargs)


# -- model arithmetic ----------------------------------------------------------------------------------------
def vit_flops(model) -> float:
    """Forward FLOPs per image of a timm VisionTransformer (2 per multiply-add; norms and softmax left out)."""
    d = model.embed_dim
    tokens = model.patch_embed.num_patches + getattr(model, "num_prefix_tokens", 1)
    hidden = model.blocks[0].mlp.fc1.out_features
    patch = model.patch_embed.proj
    per_block = tokens * (4 * d * d + 2 * d * hidden) + 2 * tokens * tokens * d
    embed = model.patch_embed.num_patches * d * patch.in_channels * patch.kernel_size[0] * patch.kernel_size[1]
    head = d * model.num_classes
    return 2.0 * (len(model.blocks) * per_block + embed + head)


def matmul_peak(device, dtype) -> float:
    """Measured FLOP/s of a large square matrix product, best of 3 rounds: the device's practical limit for
    this dtype (and, on a CPU, for the current number of torch threads)."""
    import torch

    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    best, reps = float("inf"), 10
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * reps / best


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- reporting ------------------------------------------------------------------------------------------------
def machine() -> dict:
    import torch

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"cpu": model or platform.processor(), "cores": os.cpu_count(), "python": platform.python_version(),
           "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        out["load_avg_1m"] = os.getloadavg()[0]
    except OSError:
        pass
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
    return out


class Report:
    """Headline figures of one benchmark: printed as they come, written as JSON with --json."""

    def __init__(self, benchmark: str, settings: dict):
        self.data = {"benchmark": benchmark, "settings": settings, "machine": machine(), "figures": []}

    def figure(self, name: str, value: float, unit: str = "", target: str = "", ok: bool | None = None,
               note: str = "") -> None:
        self.data["figures"].append({"name": name, "value": value, "unit": unit, "target": target, "ok": ok,
                                     "note": note})
        verdict = "" if ok is None else ("  [ok]" if ok else "  [MISSED]")
        target_text = f"  (target {target})" if target else ""
        print(f"  {name:<46} {_fmt(value):>10} {unit}{target_text}{verdict}")

    def timings(self, times: dict[str, Timing]) -> None:
        """Keep every run's wall and CPU seconds in the JSON, for whoever wants other statistics."""
        self.data.setdefault("timings", {}).update({name: {"wall": t.wall, "cpu": t.cpu} for name, t in times.items()})

    def write(self, path: str | Path | None) -> None:
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(self.data, indent=1))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def print_table(reports: list[dict]) -> int:
    """One table of the figures of several reports; returns the number of missed targets."""
    rows, missed = [], 0
    for data in reports:
        for f in data["figures"]:
            verdict = "" if f["ok"] is None else ("ok" if f["ok"] else "MISSED")
            missed += f["ok"] is False
            rows.append((data["benchmark"], f["name"], f"{_fmt(f['value'])} {f['unit']}".strip(), f["target"],
                         verdict))
    headers = ("benchmark", "figure", "value", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    return missed


def print_folder(folder: Path) -> int:
    """The table of every <benchmark>.json in `folder`; exit status 1 if a target was missed."""
    reports = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
    if reports:
        m = reports[0]["machine"]
        print(f"machine: {m.get('cpu')}, {m.get('cores')} cores, torch {m.get('torch')}, {m.get('date')}")
    return 1 if print_table(reports) else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        sys.exit(print_folder(Path(sys.argv[2])))
    print(__doc__)
    sys.exit(2)
