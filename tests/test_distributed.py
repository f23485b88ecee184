"""torchrun inside a cell: 2 CPU processes (gloo) give the single-process results."""

import json
import shutil
import socket
import subprocess
import sys

import pytest
from safetensors.numpy import load_file

from rib_core.testing import toy
from tests.helpers import toy_process_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("torchrun") is None and not (
    __import__("pathlib").Path(sys.executable).parent / "torchrun").exists(), reason="torchrun not installed")]


def test_torchrun_two_processes_match_a_single_process(toy_env, bench, tmp_path):
    # One torch thread for the single process (here) and each rank: the same kernels on both sides.
    suite = toy.grid_suite(tmp_path / "suite.toml", models=["tiny/a"], strategies=["ft"], cpu_threads=1)
    single = bench(suite, tmp_path / "single")
    assert single.exit_code == 0, single.stderr
    env = toy_process_env(tmp_path)
    args = ["bench", "-c", str(suite), "--device", "cpu", "--no-report"]
    torchrun = str(__import__("pathlib").Path(sys.executable).parent / "torchrun")
    with socket.socket() as probe:  # a free port, so parallel test runs never share a rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ddp = subprocess.run([torchrun, "--nproc-per-node=2", f"--master-port={port}", "-m", "rib_core", *args,
                          "--out", str(tmp_path / "ddp")], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert ddp.returncode == 0, ddp.stderr

    def cells(root):
        manifest = json.loads((root / "runs" / "toy.json").read_text())
        out = {}
        for c in manifest["cells"]:
            record = json.loads((root / "cells" / c["key"] / "record.json").read_text())
            name = (c["kind"], c["strategy"], c["ft_dataset"], c["eval_dataset"])
            out[name] = (c["key"], record)
        return out

    single_cells, ddp_cells = cells(tmp_path / "single"), cells(tmp_path / "ddp")
    assert single_cells.keys() == ddp_cells.keys()
    for name, (key, record) in single_cells.items():
        ddp_key, ddp_record = ddp_cells[name]
        assert key == ddp_key
        if name[0] == "eval" and name[1] is None:
            # Pre-evaluations: exactly the same predictions, every image counted once.
            a = load_file(str(tmp_path / "single" / "cells" / key / "predictions.safetensors"))
            b = load_file(str(tmp_path / "ddp" / "cells" / key / "predictions.safetensors"))
            assert (a["positions"] == b["positions"]).all() and (a["top_idx"] == b["top_idx"]).all()
            assert ddp_record["processes"] == 2
        if name[0] == "finetune":
            # DDP averages two half-batch gradients: the same mathematics, up to float rounding.
            a = load_file(str(tmp_path / "single" / "cells" / key / "weights.safetensors"))
            b = load_file(str(tmp_path / "ddp" / "cells" / key / "weights.safetensors"))
            for tensor in a:
                assert abs(a[tensor] - b[tensor]).max() < 1e-4, tensor
