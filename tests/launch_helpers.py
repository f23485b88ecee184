"""Shared by the launcher tests (core and the rib-submitit / rib-ray plugins): a toy grid run by `rib bench` in a
subprocess, the stored prediction files by cell key, and killing the process that holds a fine-tune mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rib_core.testing import toy
from tests.helpers import cells_run, toy_process_env  # noqa: F401 - cells_run: for the launcher tests

def launch_suite(folder: Path, strategies=("ft",)) -> Path:
    """One model, 2 epochs (a checkpoint to resume from); one torch thread so that every launcher computes the
    same floats on this machine."""
    return toy.grid_suite(folder / "suite.toml", models=["tiny/a"], strategies=strategies, cpu_threads=1)


def toy_setup(tmp_path: Path, strategies=("ft",)) -> tuple[Path, dict]:
    """The toy grid's data, suite and the environment of a subprocess that runs it; strategies ("ft", "lp-ft")
    add a fine-tune that waits for another job (lp)."""
    data = tmp_path / "data"
    for name in toy.DOMAINS:
        toy.write_domain(data, name)
    return launch_suite(tmp_path, strategies), toy_process_env(tmp_path, data, OMP_NUM_THREADS="1")


def local_run(run_rib, register_plugin, monkeypatch, suite: Path, env: dict, out: Path) -> str:
    """The reference: `rib bench` of the same grid with the default (local) launcher, in this process (the
    toy plugin registered, reading the data and cache `env` names); returns its stderr."""
    for name in ("RIB_TOY_DATA", "RIB_CACHE_DIR"):
        monkeypatch.setenv(name, env[name])
    register_plugin(toy, "rib-toy")
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "0", "--no-report")
    assert result.exit_code == 0, result.stderr[-3000:]
    return result.stderr


def bench(suite: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--device", "cpu",
            "--no-report", *extra]


def gpus_here() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def bench_as_users_run(suite: Path, out: Path, *extra: str) -> list[str]:
    """`rib bench` as a user runs it: no --device, so rib decides the jobs' GPUs (none on a CPU-only machine: issue
    30's hang). Where this machine has GPUs, --device cpu keeps the results comparable with a CPU reference run."""
    device = ["--device", "cpu"] if gpus_here() else []
    return [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), *device, "--no-report",
            *extra]


def run(command: list[str], env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def predictions(out: Path) -> dict[str, bytes]:
    """Every evaluation's prediction file, by cell key, as bytes."""
    files = {p.parent.name: p.read_bytes() for p in out.glob("cells/*/predictions.safetensors")}
    assert files, f"no predictions under {out}"
    return files


def kill_holder_mid_fine_tune(out: Path, deadline_s: float = 180) -> int:
    """Wait until a fine-tune has written an epoch checkpoint, then SIGKILL the process holding its cell lock."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        for lock in out.glob("cells/*/lock.json"):
            if list((lock.parent / "work").glob("checkpoint*.json")):
                try:
                    pid = json.loads(lock.read_text())["pid"]
                except (OSError, ValueError, KeyError):
                    continue
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    raise AssertionError("no fine-tune reached an epoch checkpoint in time")


def resumed_fine_tunes(out: Path) -> int:
    logs = [json.loads(p.read_text()).get("train_log") or {} for p in out.glob("cells/*/record.json")]
    return sum((log.get("resumed_from_step") or 0) > 0 for log in logs)
