"""A paper-scale rehearsal of `rib report` and `rib status`: the paper grid's real shape and image counts.

    python benchmarks/bench_report_scale.py [--scale 1] [--pairs 1x2,2x4] [--json F]
    python benchmarks/bench_report_scale.py --scale 1 --models 1 --strategies 2 --out DIR   # keep one directory

Writes, through the real Store (rib_core.engine.synthetic: the files the runner writes), a results directory
of the `paper` suite's shape: its 8 datasets at their published image counts times --scale (ImageNet-C:
50,000 source images x 15 corruptions x 5 severities, clustered by source image), ImageNet-1k val as the
reference, and every pre- and post-evaluation of M models x S strategies (held-out 20% of the fine-tuning set,
all images elsewhere). Per-sample predictions are drawn so that accuracies and their changes look like the
paper's: a per-image (ImageNet-C: per-source-image) difficulty shared by pre and post, accuracy changes of a
few points, large gains on the fine-tuning set.

Then it times, each in a fresh process with its peak RSS (VmHWM, read by the child as it exits):
    rib report DIR --format json    and    rib status DIR --json     at every scale of 1/16, 1/4, ... up to
                                                                       --scale and every --pairs (M x S);
    rib report DIR (terminal), --format csv, --plot F,                 at --scale with the first pair;
    --format html -o F (the results page, with its size)
and prints the growth ratios: time vs images (ideal 4 per 4x images), time vs M x S (ideal: the ratio of
M x S), and peak memory vs M x S (ideal 1). Goal (issue 21) at 1x, (M, S) = (1, 2): report --format json
peak RSS <= 2 GiB and wall <= 120 s on a 2-core machine. Goal (issue 33) there: the page written in <= 30 s and
<= 5 MB; the page's own share is its time minus that of --format json, measured in the same session.

    --only "report json,report html"    times only these (the names above); scales that need none are skipped
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (puts the checkout on sys.path)
from common import REPO, Report
from rib_core.engine.store import Store
from rib_core.engine.synthetic import write_eval_cell

# (label, published images, classes, pretrained top-1 %)
DATASETS = [("imagenet-v2", 10_000, 1000, 69.0), ("imagenet-a", 7_500, 200, 25.0), ("imagenet-r", 30_000, 200, 45.0),
            ("imagenet-sketch", 50_889, 1000, 35.0), ("objectnet", 18_574, 113, 45.0),
            ("imagenet-cartoon", 50_000, 1000, 65.0), ("imagenet-drawing", 50_000, 1000, 40.0),
            ("imagenet-c", 3_750_000, 1000, 55.0)]
REFERENCE = ("imagenet-val", 50_000, 1000, 80.0)
C_SOURCES, C_GROUPS = 50_000, [f"{c}/{s}" for c in (
    "brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost", "gaussian_noise", "glass_blur",
    "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "shot_noise", "snow", "zoom_blur")
    for s in range(1, 6)]
GOAL_RSS_GIB, GOAL_SECONDS = 2.0, 120.0
GOAL_PAGE_SECONDS, GOAL_PAGE_MB = 30.0, 5.0  # issue 33: the results page at 1x, (M, S) = (1, 2)
RUNS = ("report json", "status", "report table", "report csv", "report --plot", "report html")


class Dataset:
    """One dataset of the rehearsal: labels, groups, clusters and a per-image difficulty shared by every model."""

    def __init__(self, label, published, classes, accuracy, scale, rng):
        self.label, self.accuracy = label, accuracy
        if label == "imagenet-c":
            sources = max(1, round(C_SOURCES * scale))
            self.n = sources * len(C_GROUPS)
            position = np.arange(self.n)
            self.group_index = position // sources  # C_GROUPS is in name order, as the runner numbers groups
            self.cluster_index = position % sources
            severity = self.group_index % 5
            self.difficulty = np.clip(0.6 * rng.random(sources)[self.cluster_index] + 0.4 * rng.random(self.n)
                                      + 0.05 * (severity - 2), 0, 1)
            self.groups = C_GROUPS
        else:
            self.n = max(1, round(published * scale))
            self.group_index, self.cluster_index = np.zeros(self.n, np.int64), np.arange(self.n)
            self.difficulty, self.groups = rng.random(self.n), []
        self.labels = rng.integers(0, classes, self.n)
        self.classes = classes
        self.held_out = np.flatnonzero(rng.random(self.n) < 0.2)

    def write(self, store, key, positions, accuracy, rng):
        """An evaluation on `positions` with top-1 accuracy about `accuracy` %, correlated with the pre one."""
        noise = rng.random(len(positions)) < 0.15  # a few images change for reasons of their own
        u = np.where(noise, rng.random(len(positions)), self.difficulty[positions])
        correct = u < accuracy / 100
        labels = self.labels[positions]
        top1 = np.where(correct, labels, (labels + 1) % self.classes)
        write_eval_cell(store, key, positions, labels, top1, self.groups, self.group_index[positions],
                        self.cluster_index[positions])


def write_results(out: Path, scale: float, models: int, strategies: int, seed: int = 0) -> dict:
    """The results directory of a paper-shaped run; returns counts of what it holds."""
    rng = np.random.default_rng(seed)
    data = [Dataset(*d, scale, rng) for d in DATASETS]
    ref = Dataset(*REFERENCE, scale, rng)
    store = Store(out)
    cells, predictions = [], 0
    model_labels = [f"backbone-{m}" for m in range(models)]
    strategy_labels = [f"strategy-{s}" for s in range(strategies)]
    for m, model in enumerate(model_labels):
        pre_keys = {}
        for ds in data + [ref]:
            key = pre_keys[ds.label] = f"pre-{m}-{ds.label}"
            ds.write(store, key, np.arange(ds.n), ds.accuracy, rng)
            predictions += ds.n
            cells.append({"kind": "eval", "key": key, "model": model, "strategy": None, "ft_dataset": None,
                          "eval_dataset": ds.label, "subset": "all", "reported": True})
        for s, strategy in enumerate(strategy_labels):
            for ds_i in data:
                ft_key = f"ft-{m}-{s}-{ds_i.label}"
                store.write_record(ft_key, {"kind": "finetune", "files": {}})
                cells.append({"kind": "finetune", "key": ft_key, "model": model, "strategy": strategy,
                              "ft_dataset": ds_i.label, "eval_dataset": None, "subset": "all", "reported": True})
                for ds_j in data + [ref]:
                    own = ds_j is ds_i
                    positions = ds_j.held_out if own else np.arange(ds_j.n)
                    change = rng.normal(20.0, 5.0) if own else rng.normal(-3.0 + s, 4.0)
                    key = f"post-{m}-{s}-{ds_i.label}-{ds_j.label}"
                    ds_j.write(store, key, positions, float(np.clip(ds_j.accuracy + change, 1, 99)), rng)
                    predictions += len(positions)
                    cells.append({"kind": "eval", "key": key, "model": model, "strategy": strategy,
                                  "ft_dataset": ds_i.label, "eval_dataset": ds_j.label,
                                  "subset": "held-out" if own else "all", "reported": True,
                                  "finetune_key": ft_key, "pre_key": pre_keys[ds_j.label]})
    store.write_run("paper", {"suite": "paper", "source": "benchmarks/bench_report_scale.py",
                              "datasets": [d.label for d in data], "reference": ref.label, "models": model_labels,
                              "strategies": strategy_labels, "cells": cells})
    return {"cells": len(cells), "predictions": predictions,
            "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file())}


# The child reads its own peak RSS (VmHWM) as it exits. ru_maxrss from wait4 would not do: Linux carries the
# forking parent's peak (this process, which held the arrays it wrote) over into the child's.
CHILD = """import atexit, os, runpy, sys
def peak():
    with open(os.environ["RIB_BENCH_PEAK"], "w") as f:
        f.write(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
atexit.register(peak)
sys.argv = ["rib"] + sys.argv[1:]
runpy.run_module("rib_core", run_name="__main__")
"""


def run_rib(*args: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (GiB) of `rib ARGS` in a fresh process; output discarded.

    CPU seconds (user + system of the child) do not move with the machine's load; wall time does.
    """
    with tempfile.NamedTemporaryFile(suffix=".peak") as peak:
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   RIB_BENCH_PEAK=peak.name)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env)
        stderr = proc.stderr.read().decode()  # read before waiting: a full pipe would block the child
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"rib {' '.join(args)} failed ({proc.returncode}):\n{stderr}")
        return wall, usage.ru_utime + usage.ru_stime, int(Path(peak.name).read_text()) / 2**20  # VmHWM in kB


def scales_up_to(scale: float) -> list[float]:
    out, s = [], scale
    while s >= 1 / 16 - 1e-12 and len(out) < 3:
        out.insert(0, s)
        s /= 4
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the published image counts (1 = paper)")
    parser.add_argument("--pairs", default="1x2,2x4", help="(models)x(strategies) grids to measure, e.g. 1x2,2x4")
    parser.add_argument("--models", type=int, help="with --strategies and --out: write one directory and keep it")
    parser.add_argument("--strategies", type=int)
    parser.add_argument("--out", type=Path, help="keep the results directory here (one --models x --strategies grid)")
    parser.add_argument("--tmp", type=Path, default=Path(tempfile.gettempdir()), help="where to write scratch results")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--only", help=f"comma-separated runs to time, of: {', '.join(RUNS)} (default: all)")
    args = parser.parse_args()
    only = set(RUNS) if args.only is None else {n.strip() for n in args.only.split(",") if n.strip()}
    if only - set(RUNS):
        parser.error(f"--only: unknown run(s) {', '.join(sorted(only - set(RUNS)))}; choose from {', '.join(RUNS)}")
    if args.out is not None:
        models, strategies = args.models or 1, args.strategies or 2
        started = time.perf_counter()
        counts = write_results(args.out, args.scale, models, strategies)
        print(f"wrote {args.out}: {counts['cells']} cells, {counts['predictions']:,} predictions, "
              f"{counts['bytes'] / 2**30:.2f} GiB in {time.perf_counter() - started:.0f} s. "
              f"Try: rib report {args.out} --format json; rib status {args.out}")
        return 0

    pairs = [tuple(int(x) for x in p.split("x")) for p in args.pairs.split(",")]
    report = Report("report_scale", {"scale": args.scale, "pairs": args.pairs})
    seen: dict = {}
    for scale in scales_up_to(args.scale):
        for models, strategies in pairs:
            top = scale == args.scale and (models, strategies) == pairs[0]
            names = [n for n in RUNS if n in only and (top or n in ("report json", "status"))]
            if not names:
                continue
            args.tmp.mkdir(parents=True, exist_ok=True)  # --tmp may name a folder to be made
            out = Path(tempfile.mkdtemp(prefix="rib-report-scale-", dir=args.tmp))
            try:
                started = time.perf_counter()
                counts = write_results(out, scale, models, strategies)
                print(f"scale {scale:g}, {models}x{strategies}: {counts['cells']} cells, "
                      f"{counts['predictions']:,} predictions, {counts['bytes'] / 2**30:.2f} GiB written in "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
                tag = f"{scale:g}x {models}x{strategies}"
                page = out.parent / f"{out.name}.html"  # outside DIR: the results' size stays the results'
                runs = {"report json": ("report", str(out), "--format", "json"),
                        "status": ("status", str(out), "--json"), "report table": ("report", str(out)),
                        "report csv": ("report", str(out), "--format", "csv"),
                        "report --plot": ("report", str(out), "--format", "json", "--plot", str(out / "p.png")),
                        "report html": ("report", str(out), "--format", "html", "-o", str(page))}
                for name in names:
                    wall, cpu, rss = run_rib(*runs[name])
                    seen[(name, scale, models * strategies)] = (wall, rss, cpu)
                    paper_size = scale == 1 and (models, strategies) == (1, 2)
                    goal = (GOAL_SECONDS if name == "report json" else GOAL_PAGE_SECONDS if name == "report html"
                            else None) if paper_size else None
                    report.figure(f"{tag} {name} wall", wall, "s", f"<= {goal:g}" if goal else "",
                                  wall <= goal if goal else None, note=f"load average {os.getloadavg()[0]:.1f}")
                    report.figure(f"{tag} {name} CPU", cpu, "s")
                    rss_goal = paper_size and name == "report json"
                    report.figure(f"{tag} {name} peak RSS", rss, "GiB", f"<= {GOAL_RSS_GIB:g}" if rss_goal else "",
                                  rss <= GOAL_RSS_GIB if rss_goal else None)
                    if name == "report html":
                        size = page.stat().st_size / 2**20
                        report.figure(f"{tag} {name} page size", size, "MiB",
                                      f"<= {GOAL_PAGE_MB:g}" if paper_size else "",
                                      size <= GOAL_PAGE_MB if paper_size else None)
                        page.unlink()
                if "report html" in names and "report json" in names:  # the page's own share, same session
                    html = seen[("report html", scale, models * strategies)]
                    json_ = seen[("report json", scale, models * strategies)]
                    report.figure(f"{tag} page minus json wall", html[0] - json_[0], "s",
                                  note=f"load average {os.getloadavg()[0]:.1f}")
                    report.figure(f"{tag} page minus json CPU", html[2] - json_[2], "s")
            finally:
                shutil.rmtree(out, ignore_errors=True)
    print("growth ratios:")
    scales = scales_up_to(args.scale)
    grids = [m * s for m, s in pairs]
    for name in ("report json", "status"):
        for a, b in zip(scales, scales[1:]):
            for g in grids:
                if (name, b, g) in seen and (name, a, g) in seen:
                    report.figure(f"{name} wall, {b:g}x / {a:g}x images, MxS={g}",
                                  seen[(name, b, g)][0] / seen[(name, a, g)][0], "", f"~{b / a:g} (linear)")
        for g in grids[1:]:
            top = scales[-1]
            if (name, top, g) not in seen or (name, top, grids[0]) not in seen:
                continue
            report.figure(f"{name} wall, MxS {g} / {grids[0]} at {top:g}x",
                          seen[(name, top, g)][0] / seen[(name, top, grids[0])][0], "", f"~{g / grids[0]:g} (linear)")
            report.figure(f"{name} peak RSS, MxS {g} / {grids[0]} at {top:g}x",
                          seen[(name, top, g)][1] / seen[(name, top, grids[0])][1], "", "~1 (flat)")
    report.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
