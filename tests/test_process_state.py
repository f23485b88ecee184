"""In-process runs of `rib` (run_rib, the bench fixture) leave the test process as a subprocess would have: what a
command changes in the process is put back (rib_core/testing/process_state.py)."""

import io
import os
import random
import signal
import sys

import numpy as np
import torch

import rib_core.cli
from rib_core import plugins
from rib_core.data import cache_check
from rib_core.testing import toy


def test_run_rib_puts_back_everything_a_command_changes_in_the_process(run_rib, monkeypatch, tmp_path):
    before = {
        "environ": dict(os.environ), "cwd": os.getcwd(), "registry": plugins._registry,
        "sigterm": signal.getsignal(signal.SIGTERM), "sigint": signal.getsignal(signal.SIGINT),
        "streams": (sys.stdout, sys.stderr), "threads": torch.get_num_threads(),
        "verified": set(cache_check._verified),
    }
    random.seed(1), np.random.seed(1), torch.manual_seed(1)  # the RNG states a command must get back
    states = random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state()

    def leaky_main(argv):
        import rich

        os.environ["RIB_LEAKED"] = "1"
        os.environ.pop("HF_HUB_OFFLINE", None)
        os.chdir(tmp_path)
        plugins.reset_registry()
        plugins.get_registry()
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout = io.StringIO()  # a live display that never stopped
        rich.get_console()
        torch.set_num_threads(before["threads"] + 1)
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
        cache_check._verified.add(("shard", 1, 2))
        print("ran")
        return 3

    monkeypatch.setattr(rib_core.cli, "main", leaky_main)
    assert run_rib("anything").exit_code == 3
    assert dict(os.environ) == before["environ"] and os.getcwd() == before["cwd"]
    assert plugins._registry is before["registry"]
    assert signal.getsignal(signal.SIGTERM) is before["sigterm"] and signal.getsignal(signal.SIGINT) is before["sigint"]
    assert (sys.stdout, sys.stderr) == before["streams"]
    assert sys.modules["rich"]._console is None
    assert torch.get_num_threads() == before["threads"]
    assert random.getstate() == states[0] and (np.random.get_state()[1] == states[1]).all()
    assert torch.equal(torch.random.get_rng_state(), states[2])
    assert cache_check._verified == before["verified"]


def test_a_real_bench_leaves_threads_and_environment_as_they_were(toy_env, bench, run_rib):
    threads = torch.get_num_threads()
    environ = dict(os.environ)
    suite = toy.grid_suite(toy_env / "suite.toml", models=["tiny/a"], datasets=["toy-a", "toy-b"], reference=None,
                           strategies=["ft"], training={"epochs": 1}, cpu_threads=threads + 1)
    result = bench(suite)
    assert result.exit_code == 0, result.stderr
    assert "8 cell(s) run, 0 reused" in result.stderr
    assert torch.get_num_threads() == threads and dict(os.environ) == environ
    # A second in-process run starts from the same state as the first: it reuses every cell, as a new process would.
    assert "0 cell(s) run, 8 reused" in bench(suite).stderr
