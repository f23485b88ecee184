"""rib-ray on a machine without GPUs, as a user runs it: no --device cpu (issue 30; the grid's run without it is
test_ray.py's killed-worker test). Each run has a timeout: a
job that waits for a GPU the machine does not have must fail the test, not hang it."""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")

from tests.launch_helpers import gpus_here, toy_setup  # noqa: E402

# A private Ray instance per test (~5-10 s to start on 2 cores); one Ray at a time under pytest-xdist.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def bench(suite, out, *extra):
    """`rib bench` with rib's defaults: --device auto, the jobs' GPUs decided by rib."""
    return [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--no-report", *extra]


def ray(*extra):
    return ("--launcher", "ray", "--ray-num-cpus", "2", "--cpus-per-job", "1", *extra)



@pytest.fixture
def toy(tmp_path):
    suite, env = toy_setup(tmp_path)
    return suite, {k: v for k, v in env.items() if k != "RAY_ADDRESS"}  # never join a cluster that is around


def test_a_job_no_node_can_hold_fails_within_seconds_naming_the_flag_and_writes_nothing(toy, tmp_path):
    suite, env = toy
    started = time.monotonic()
    done = subprocess.run(bench(suite, tmp_path / "out", *ray("--gpus-per-job", str(gpus_here() + 1))), env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    assert f"asks for {gpus_here() + 1} GPU" in done.stderr and f"Set --gpus-per-job {gpus_here()}" in done.stderr
    assert not (tmp_path / "out" / "runs").exists()


def test_sigterm_cancels_the_ray_tasks_and_says_so(toy, tmp_path):
    suite, env = toy
    out = tmp_path / "out"
    proc = subprocess.Popen(bench(suite, out, *ray()), env=dict(env, RIB_TOY_STEP_SLEEP="0.05"), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("cells/*/lock.json")):
        time.sleep(0.1)
    assert list(out.glob("cells/*/lock.json")), "no job started"
    os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-3000:]  # rib's own exit, not Ray's signal handler's
    assert "rib bench stopped: cancelled" in stderr and "run the same command again to resume" in stderr
