"""`rib bench --dry-run`'s estimate against the run it estimates: time and disk, for models unlike each other.

    python benchmarks/bench_estimate.py [--suite all|demo|estimate-bn-cnn|estimate-tiny-vit] [--keep DIR]

Three grids on the demo's synthetic domains (benchmarks/estimate/suites.toml): the packaged `demo` (two tiny
ViTs with a convolutional stem), a BatchNorm CNN at 32 px and a tiny timm ViT (benchmarks/estimate/
rib_bench_models.py, registered like a third-party plugin through a throwaway distribution). For each, in one
process each and back to back:
  1. `rib bench --dry-run` into an empty results directory: its estimated time, fine-tuned weights and cache;
  2. `rib bench --no-report` into the same directory: its wall time, the bytes of weights it wrote and of the
     decoded-image cache it built (a fresh cache directory for images; the demo's drawn data and pretrained
     backbones are reused: the estimate does not count that one-off);
then prints actual / estimated for each. Issue 30 asks for a time estimate within 2x either way (0.5 to 2.0).
The machine's load average is printed before and after: an estimate measured under one load and a run under
another differ by the load's ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent / "estimate"
UNITS = {"s": 1, "min": 60, "h": 3600, "MB": 1e6, "GB": 1e9}
SUITES = {"demo": None, "estimate-bn-cnn": HERE / "suites.toml", "estimate-tiny-vit": HERE / "suites.toml"}


def rib(*args: str, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "rib_core", *args], env=env, capture_output=True, text=True,
                          cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"rib {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def parse(dry_run: str) -> dict[str, float]:
    text = flat(dry_run)
    time_ = re.search(r"estimated time on \w+ ~([\d.]+) (s|min|h)", text)
    weights = re.search(r"fine-tuned weights ~([\d.]+) (MB|GB)", text)
    cache = re.search(r"decoded-image cache ~([\d.]+) (MB|GB)", text)
    return {"seconds": float(time_[1]) * UNITS[time_[2]], "weights": float(weights[1]) * UNITS[weights[2]],
            "cache": float(cache[1]) * UNITS[cache[2]]}


def size(root: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in root.glob(pattern) if p.is_file())


def install_models(site: Path) -> None:
    """The benchmark's two models as an installed plugin: a module and its dist-info with a `rib` entry point."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "rib_bench_models.py", site / "rib_bench_models.py")
    info = site / "rib_bench_models-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rib-bench-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[rib]\nbench-models = rib_bench_models\n")


def load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def measure(suite: str, config: Path | None, work: Path, cache: Path, keep: Path | None) -> dict:
    run_cache = work / "cache"
    run_cache.mkdir()
    for name in ("demo-data", "demo-models"):  # the drawn data and pretrained backbones, reused
        if (cache / name).exists():
            os.symlink(cache / name, run_cache / name)
    env = dict(os.environ, RIB_CACHE_DIR=str(run_cache), HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(work / "site"), str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = keep / suite if keep else work / "out"
    where = ["--suite", suite] + (["-c", str(config)] if config else [])
    started = time.perf_counter()
    dry = rib("bench", *where, "--dry-run", "--out", str(out), env=env).stdout
    dry_run_s = time.perf_counter() - started
    load_before = load()
    started = time.perf_counter()
    rib("bench", *where, "--no-report", "--out", str(out), env=env)
    actual = {"seconds": time.perf_counter() - started, "weights": size(out, "cells/*/weights*.safetensors"),
              "cache": size(run_cache / "images", "**/*")}
    weights_line = re.search(r"fine-tuned weights (~[^)]*\))", flat(dry))
    time_line = re.search(r"(estimated time on .*?)(?: Missing|$)", flat(dry))
    return {"suite": suite, "estimate": parse(dry), "actual": actual, "dry_run_s": dry_run_s,
            "load": f"{load_before} -> {load()}", "weights_line": weights_line[1] if weights_line else "",
            "time_line": time_line[1] if time_line else ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="all", choices=["all", *SUITES])
    parser.add_argument("--keep", type=Path, help="keep each results directory under DIR/<suite>")
    args = parser.parse_args()
    cache = Path(os.environ.get("RIB_CACHE_DIR", Path.home() / ".cache" / "rib"))
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    print(f"load average at the start: {load()}")
    results, ok = [], True
    for suite in suites:
        work = Path(tempfile.mkdtemp(prefix="rib-estimate-"))
        try:
            install_models(work / "site")
            results.append(measure(suite, SUITES[suite], work, cache, args.keep))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = results[-1]
        print(f"\nsuite {suite}: dry run itself {r['dry_run_s']:.1f} s (with calibration); load average during the "
              f"run {r['load']}")
        print(f"  dry run: fine-tuned weights {r['weights_line']}")
        print(f"  dry run: {r['time_line']}")
        print(f"  {'':12} {'estimated':>12} {'actual':>12} {'actual/est':>10}")
        for key, unit, scale in (("seconds", "s", 1), ("weights", "MB", 1e6), ("cache", "MB", 1e6)):
            e, a = r["estimate"][key] / scale, r["actual"][key] / scale
            print(f"  {key:12} {e:>10.1f}{unit:>2} {a:>10.1f}{unit:>2} {a / e if e else float('nan'):>10.2f}")
        ratio = r["actual"]["seconds"] / r["estimate"]["seconds"]
        ok &= 0.5 <= ratio <= 2.0
    print("\nestimate / measured time (issue 30: each within [0.5, 2]):")
    for r in results:
        ratio = r["estimate"]["seconds"] / r["actual"]["seconds"]
        print(f"  {r['suite']:20} {r['estimate']['seconds']:8.0f} s / {r['actual']['seconds']:6.1f} s = {ratio:.2f}"
              f"  {'ok' if 0.5 <= ratio <= 2 else 'OUT'}")
    print(f"load average at the end: {load()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
