"""rib-submitit on a machine without GPUs, as a user runs it: no --device cpu (issue 30; the grid's run without it is
test_submitit.py's requeue test); a SIGTERM to rib stops its jobs instead of leaving them running (issue 35);
--cluster slurm without SLURM writes nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("submitit")

from tests.launch_helpers import gpus_here, toy_setup  # noqa: E402

LOCAL = ("--launcher", "submitit", "--cluster", "local", "--cpus-per-job", "1")


def bench(suite, out, *extra):
    """`rib bench` with rib's defaults: --device auto, the jobs' GPUs decided by rib."""
    return [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--no-report", *extra]



def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_a_job_this_machine_cannot_hold_fails_at_once_naming_the_flag(tmp_path):
    suite, env = toy_setup(tmp_path)
    done = subprocess.run(bench(suite, tmp_path / "out", *LOCAL, "--gpus-per-job", str(gpus_here() + 1)), env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"Set --gpus-per-job {gpus_here()}" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has SLURM")
def test_cluster_slurm_without_slurm_is_refused_before_anything_is_written(tmp_path):
    suite, env = toy_setup(tmp_path)
    done = subprocess.run(bench(suite, tmp_path / "out", "--launcher", "submitit", "--cluster", "slurm"), env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "--cluster slurm: this machine has no SLURM" in done.stderr and "--cluster local" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sigterm_to_rib_cancels_its_local_jobs_and_says_so(tmp_path):
    suite, env = toy_setup(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen(bench(suite, out, *LOCAL), env=dict(env, RIB_TOY_STEP_SLEEP="0.05"), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline, holders = time.monotonic() + 120, set()
    while time.monotonic() < deadline and not holders:
        for lock in out.glob("cells/*/lock.json"):
            try:
                holders.add(json.loads(lock.read_text())["pid"])
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.05)
    assert holders, "no job started"
    os.kill(proc.pid, signal.SIGTERM)  # rib alone, as `kill` or SLURM would: not its process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-3000:]
    assert "rib bench stopped: cancelled" in stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in holders):
        time.sleep(0.1)
    assert not any(alive(pid) for pid in holders), "a job of the stopped run is still running"
