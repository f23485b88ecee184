"""Grid sharding: concurrent jobs over one results directory compute every cell exactly once."""

import json
import signal
import subprocess
import sys
import time

import pytest

from rib_core.engine.shard import parse_shard, select_shard
from rib_core.errors import UsageError
from rib_core.testing import toy
from tests.helpers import cells_run, toy_process_env


def command(suite, out, *extra):
    return [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--device", "cpu",
            "--no-report", *extra]


@pytest.fixture
def setup(toy_env):
    """The toy grid (ft, both models) and the environment of a `rib` subprocess that runs it on toy_env's data."""
    # One torch thread for every run, in this process or not: the same kernels, so the same numbers.
    suite = toy.grid_suite(toy_env / "suite.toml", strategies=["ft"], cpu_threads=1)
    return suite, toy_process_env(toy_env)


def test_parse_shard_rejects_nonsense():
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "a/b", "3"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_shards_partition_the_plan():
    class C:
        def __init__(self, key, kind, work, ft=None):
            self.key, self.kind, self.work, self.finetune_key = key, kind, work, ft

    plan = [C(f"p{i}", "eval", 10) for i in range(5)] + [C(f"f{i}", "finetune", 3) for i in range(4)]
    plan += [C(f"e{i}{j}", "eval", 5, f"f{i}") for i in range(4) for j in range(3)]
    parts = [select_shard(plan, k, 3) for k in (1, 2, 3)]
    keys = [c.key for part in parts for c in part]
    assert sorted(keys) == sorted(c.key for c in plan)  # complete and disjoint
    for part in parts:  # a fine-tune travels with its evaluations
        mine = {c.key for c in part}
        assert all(c.finetune_key in mine for c in part if c.finetune_key)


@pytest.mark.slow  # three processes at once over one directory: the process boundary is the point
def test_three_concurrent_shards_compute_each_cell_once_and_merge(setup, tmp_path, bench, run_rib):
    suite, env = setup
    single = bench(suite, tmp_path / "single")
    assert single.exit_code == 0, single.stderr
    total = cells_run(single.stderr)

    out = tmp_path / "sharded"
    procs = [subprocess.Popen(command(suite, out, "--shard", f"{k}/3"), env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in (1, 2, 3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    assert sum(cells_run(err) for _, err in results) == total

    def report(root):
        data = json.loads(run_rib("report", str(root), "--format", "json").stdout)
        return sorted((a["model"], str(a["strategy"]), str(a["ft_dataset"]), a["eval_dataset"], a["accuracy"])
                      for a in data["accuracies"]), data["mri"]

    assert report(out) == report(tmp_path / "single")
    status = run_rib("status", str(out), "--json")
    assert json.loads(status.stdout)["counts"] == {"done": total, "in progress": 0, "failed": 0, "not run": 0, "pending": 0}


@pytest.mark.slow  # a shard process killed while it holds a cell
def test_a_killed_shards_cell_is_completed_by_a_rerun_after_its_lock_expires(setup, tmp_path):
    suite, env = setup
    out = tmp_path / "out"
    slow = dict(env, RIB_TOY_STEP_SLEEP="0.05", RIB_LOCK_TTL="3")
    proc = subprocess.Popen(command(suite, out, "--shard", "1/1"), env=slow, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.parent.name != "cells" and (p.parent / "work").exists()
                                             for p in out.glob("cells/*/lock.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    locked = list(out.glob("cells/*/lock.json"))
    assert locked, "the shard was not killed while holding a cell"
    rerun = subprocess.run(command(suite, out, "--shard", "1/1"), env=dict(env, RIB_LOCK_TTL="3"), cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    for lock in locked:
        assert (lock.parent / "record.json").exists()
        assert not lock.exists()
