"""rib-submitit end to end through submitit's local executor (real subprocesses) on the toy grid."""

import json
import os
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow  # submitit's local executor: real job processes, killed
pytest.importorskip("submitit")

from tests.launch_helpers import (bench, bench_as_users_run, cells_run, gpus_here, kill_holder_mid_fine_tune,  # noqa: E402
                                  local_run, predictions, resumed_fine_tunes, run, toy_setup)

SUBMITIT = ("--launcher", "submitit", "--cluster", "local", "--cpus-per-job", "1")


def test_submitit_local_matches_the_local_launcher_byte_for_byte_after_a_killed_job_is_requeued(
        tmp_path, run_rib, register_plugin, monkeypatch):
    """As a user runs it, without --device cpu: on a CPU-only machine the jobs ask for no GPU (issue 30)."""
    suite, env = toy_setup(tmp_path)
    total = cells_run(local_run(run_rib, register_plugin, monkeypatch, suite, env, tmp_path / "local"))

    out = tmp_path / "submitit"
    proc = subprocess.Popen(bench_as_users_run(suite, out, *SUBMITIT), env=dict(env, RIB_TOY_STEP_SLEEP="0.03"),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kill_holder_mid_fine_tune(out)  # the job's own process, not rib's
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert "requeued" in stderr
    assert resumed_fine_tunes(out) >= 1  # the requeued job went on from the epoch checkpoint
    assert predictions(out) == predictions(tmp_path / "local")

    data = json.loads(run_rib("status", str(out), "--json").stdout)
    assert data["counts"]["done"] == total
    assert all(j["state"] == "done" and j["id"] for j in data["jobs"])
    assert any(j["attempts"] == 2 for j in data["jobs"])
    if not gpus_here():
        resources = json.loads((out / "launch" / "toy.json").read_text())["resources"]
        assert resources == {"gpus": 0, "cpus": 1, "device": "cpu"}


def test_a_launcher_run_killed_half_way_computes_only_the_missing_cells_when_started_again(tmp_path):
    suite, env = toy_setup(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen(bench(suite, out, *SUBMITIT), env=dict(env, RIB_TOY_STEP_SLEEP="0.02"), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and len(list(out.glob("cells/*/record.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # rib and every job it started
    proc.wait()
    time.sleep(0.5)
    finished = len(list(out.glob("cells/*/record.json")))
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    assert 3 <= finished < len(manifest["cells"]), "the run was not killed half-way"

    again = run(bench(suite, out, *SUBMITIT), env, tmp_path)
    assert cells_run(again.stderr) == len(manifest["cells"]) - finished
    assert len(list(out.glob("cells/*/record.json"))) == len(manifest["cells"])
