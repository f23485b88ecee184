"""The launcher contract: jobs with their dependencies, retries of lost jobs, results identical to the local run."""

import json
import subprocess
import sys

import pytest

import tests.toy_launcher
from rib_core.engine.jobs import plan_jobs
from tests.helpers import cells_run
from tests.launch_helpers import launch_suite, predictions


class C:
    def __init__(self, key, kind, model="m", ft=None, deps=(), work=1):
        self.key, self.kind, self.model, self.finetune_key, self.deps, self.work = key, kind, model, ft, deps, work

    def describe(self):
        return self.key


def test_jobs_group_pre_evaluations_per_model_and_each_fine_tune_with_its_evaluations():
    plan = [C("pa1", "eval"), C("pa2", "eval"), C("pb1", "eval", model="n"),
            C("lp", "finetune"), C("lp-e", "eval", ft="lp", deps=("lp",)),
            C("lpft", "finetune", deps=("lp",)), C("lpft-e1", "eval", ft="lpft", deps=("lpft",)),
            C("lpft-e2", "eval", ft="lpft", deps=("lpft",))]
    jobs = plan_jobs(plan, gpus=2)
    assert [j.keys for j in jobs] == [["pa1", "pa2"], ["pb1"], ["lp", "lp-e"], ["lpft", "lpft-e1", "lpft-e2"]]
    assert [j.after for j in jobs] == [[], [], [], [jobs[2].name]]
    assert all(j.gpus == 2 for j in jobs)
    assert sorted(k for j in jobs for k in j.keys) == sorted(c.key for c in plan)


@pytest.fixture
def suite(toy_env, register_plugin):
    """The launch grid (tests/launch_helpers.py) with ft and lp-ft, and the inline launcher (tests/toy_launcher.py),
    which runs each job in this process."""
    register_plugin(tests.toy_launcher, "rib-toy-launcher")
    return launch_suite(toy_env, ("ft", "lp-ft"))


def test_a_launcher_plugin_runs_the_grid_retries_lost_jobs_and_matches_the_local_run(suite, bench, run_rib,
                                                                                     monkeypatch, tmp_path):
    local = bench(suite, tmp_path / "local")
    assert local.exit_code == 0, local.stderr[-3000:]
    total = cells_run(local.stderr)

    out = tmp_path / "inline"
    monkeypatch.setenv("RIB_TOY_LOSE_JOBS", "pre-001,ft-005")
    launched = bench(suite, out, "--launcher", "inline", "--inline-tag", "x")
    monkeypatch.delenv("RIB_TOY_LOSE_JOBS")
    assert launched.exit_code == 0, launched.stderr[-3000:]
    assert cells_run(launched.stderr) == total
    assert "requeued" in launched.stderr
    assert predictions(out) == predictions(tmp_path / "local")  # same bytes, cell by cell

    data = json.loads(run_rib("status", str(out), "--json").stdout)
    assert data["counts"] == {"done": total, "in progress": 0, "failed": 0, "not run": 0, "pending": 0}
    attempts = {j["job"]: j["attempts"] for j in data["jobs"]}
    assert attempts["pre-001"] == attempts["ft-005"] == 2
    assert all(j["state"] == "done" for j in data["jobs"])

    again = bench(suite, out, "--launcher", "inline")
    assert again.exit_code == 0, again.stderr[-3000:]
    assert cells_run(again.stderr) == 0  # nothing left to compute: no job is even submitted


def test_a_job_lost_more_often_than_max_retries_fails_and_its_dependants_are_skipped(suite, bench, monkeypatch):
    monkeypatch.setenv("RIB_TOY_LOSE_JOBS", "ft-005")
    done = bench(suite, None, "--launcher", "inline", "--max-retries", "0")
    assert done.exit_code == 1
    assert "job ft-005" in done.stderr and "node of ft-005 died" in done.stderr
    assert "not run because a cell they depend on failed" in done.stderr  # lp-ft waits for lp's job


def test_launcher_usage_errors_exit_2(suite, bench, tmp_path):
    unknown = bench(suite, tmp_path / "o", "--launcher", "slurmm")
    assert unknown.exit_code == 2 and "unknown launcher 'slurmm'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    both = bench(suite, tmp_path / "o", "--launcher", "inline", "--shard", "1/2")
    assert both.exit_code == 2 and "--shard" in both.stderr


def test_help_and_list_launchers_never_import_a_scheduler():
    code = ("import sys, contextlib, io\nfrom rib_core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    main(['list', 'launchers'])\n"
            "    try:\n        main(['bench', '--help'])\n    except SystemExit:\n        pass\n"
            "print(out.getvalue())\n"
            "print('HEAVY', sorted(m for m in ('torch', 'submitit', 'ray') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
    assert "local" in done.stdout and "--launcher" in done.stdout
