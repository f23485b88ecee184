"""The README's first command: `rib bench` with no config runs the offline demo end to end, with meaningful numbers.

This is the slowest test (about a minute and a half on 2 cores: it generates the data, pretrains both
backbones and runs the whole demo grid), and the one a new user meets first.
"""

import json
import os
import subprocess
import sys
from statistics import mean, pstdev

import pytest

DOMAINS = ["demo-photo", "demo-sketch", "demo-cartoon", "demo-drawing", "demo-noise"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    where = tmp_path_factory.mktemp("demo")  # no benchmarks.toml here: the packaged suites are used
    env = dict(os.environ, RIB_CACHE_DIR=str(where / "cache"), HF_HUB_OFFLINE="1")
    env.pop("RIB_DATA_ROOT", None)
    bench = subprocess.run([sys.executable, "-m", "rib_core", "bench", "--out", str(where / "out")],
                           capture_output=True, text=True, env=env, cwd=where, timeout=1200)
    report = subprocess.run([sys.executable, "-m", "rib_core", "report", str(where / "out"), "--format", "json"],
                            capture_output=True, text=True, env=env, cwd=where, timeout=300)
    return bench, json.loads(report.stdout)


@pytest.mark.slow
def test_demo_runs_offline_and_prints_the_report(demo_run):
    bench, report = demo_run
    assert bench.returncode == 0, bench.stderr[-3000:]
    assert "demo/broad · ft" in bench.stdout and "mRI" in bench.stdout
    strategies = {m["strategy"] for m in report["mri"]}
    assert {"ft", "lp", "wise-ft[alpha=0.5]"} <= strategies


@pytest.mark.slow
def test_demo_numbers_are_meaningful(demo_run):
    _, report = demo_run
    pre = {(a["model"], a["eval_dataset"]): a["accuracy"] for a in report["accuracies"] if a["strategy"] is None}
    # Every pretrained backbone is well above chance (10 classes) on every domain and the source domain.
    assert len(pre) == 2 * 6 and min(pre.values()) >= 20.0
    # Fine-tuning raises in-distribution accuracy (the held-out part of the fine-tuning set).
    gains = {}
    for m in report["metrics"]:
        if m["metric"] == "id-gain":
            gains.setdefault((m["model"], m["strategy"]), []).append(m["value"])
    for model in ("demo/narrow", "demo/broad"):
        assert mean(gains[(model, "ft")]) > 5.0
    # RI differs between backbones and strategies, and the paper's finding shows in miniature: full fine-tuning
    # costs the broadly pretrained backbone more robustness than the narrow one.
    mri = {(m["model"], m["strategy"]): m["mri"] for m in report["mri"]}
    assert pstdev(mri.values()) > 1.0
    assert mri[("demo/broad", "ft")] < mri[("demo/narrow", "ft")] - 3.0
