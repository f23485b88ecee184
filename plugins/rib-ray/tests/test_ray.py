"""rib-ray end to end on a private local Ray instance (2 CPUs, loopback only) on the toy grid."""

import json
import subprocess

import pytest

# A private Ray instance, a worker killed mid-fine-tune; in the Ray tests' worker under pytest-xdist (one Ray at a time).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]
pytest.importorskip("ray")

from tests.launch_helpers import (bench_as_users_run, cells_run, kill_holder_mid_fine_tune, local_run,  # noqa: E402
                                  predictions, resumed_fine_tunes, toy_setup)


def test_ray_local_matches_the_local_launcher_byte_for_byte_after_a_worker_is_killed_mid_fine_tune(
        tmp_path, run_rib, register_plugin, monkeypatch):
    """As a user runs it, without --device cpu: on a CPU-only machine the jobs ask Ray for no GPU and do not hang
    (issue 30)."""
    suite, env = toy_setup(tmp_path)
    env = {k: v for k, v in env.items() if k != "RAY_ADDRESS"}  # never join a cluster that happens to be around
    total = cells_run(local_run(run_rib, register_plugin, monkeypatch, suite, env, tmp_path / "local"))

    out = tmp_path / "ray"
    proc = subprocess.Popen(bench_as_users_run(suite, out, "--launcher", "ray", "--ray-num-cpus", "2", "--cpus-per-job",
                                               "1"),
                            env=dict(env, RIB_TOY_STEP_SLEEP="0.03"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    kill_holder_mid_fine_tune(out)  # a Ray worker process
    _, stderr = proc.communicate(timeout=400)
    assert proc.returncode == 0, stderr[-3000:]
    assert resumed_fine_tunes(out) >= 1  # Ray ran the task again and it went on from the epoch checkpoint
    assert predictions(out) == predictions(tmp_path / "local")

    data = json.loads(run_rib("status", str(out), "--json").stdout)
    assert data["counts"]["done"] == total
    assert all(j["state"] == "done" for j in data["jobs"])
