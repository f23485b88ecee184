"""Reliability while a suite runs: failing plugins, diverging training, out-of-memory, interruption, torn files,
a second run on the same directory, an unwritable or full disk, and what may be unpickled."""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from rib_core.engine import store as store_module
from rib_core.engine.store import Store
from rib_core.errors import RibError
from tests.helpers import bench_process_at_first_checkpoint, records, small_grid_suite, toy_process_env


def failures(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("cells/*/failed.json"))]


def stored_predictions(out: Path) -> dict:
    """(model, strategy, ft_dataset, eval_dataset) -> bytes of the predictions file, for every stored evaluation."""
    found = {}
    for record in records(out):
        cell = record["cell"]
        if cell["kind"] == "eval":
            found[(cell["model"], cell["strategy"], cell["ft_dataset"], cell["eval_dataset"])] = (
                out / "cells" / cell["key"] / "predictions.safetensors").read_bytes()
    return found


def load_predictions(data: bytes) -> dict[str, torch.Tensor]:
    from safetensors.torch import load
    return load(data)


# -- plugins failing at run time ---------------------------------------------------------------------------------
def test_a_backbone_plugin_failing_at_run_time_fails_its_cells_and_the_others_complete(small_toy_env, bench, run_rib):
    out = small_toy_env / "out"
    result = bench(small_grid_suite(small_toy_env, models=("tiny/a", "broken/x", "ghost/x")), out)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    done = {(r["cell"]["model"], r["cell"]["kind"]) for r in records(out)}
    assert done == {("tiny/a", "eval"), ("tiny/a", "finetune")}
    assert len(records(out)) == 8  # tiny/a's whole grid: 2 pre-evaluations, 2 fine-tunes, 4 evaluations
    failed = {f["cell"]["model"]: f["error"] for f in failures(out)}
    assert set(failed) == {"broken/x", "ghost/x"}
    assert "RuntimeError: weights server unreachable" in failed["broken/x"]
    # A target that cannot be imported names the plugin that registered it.
    assert "plugin 'rib-test-faults' registered model 'ghost/*'" in failed["ghost/x"]
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert {r["model"] for r in report["ri"]} == {"tiny/a"}


def test_an_exception_inside_a_plugin_loader_names_the_plugin(small_toy_env, bench):
    out = small_toy_env / "out"
    bench(small_grid_suite(small_toy_env, models=("broken/x",)), out)
    assert all("rib-test-faults" in f["error"] for f in failures(out))


def test_a_dataset_plugin_failing_while_decoding_fails_its_cells_and_the_others_complete(small_toy_env, bench):
    out = small_toy_env / "out"
    suite = small_grid_suite(small_toy_env)
    suite.write_text(suite.read_text().replace('"toy-b"]', '"toy-b", {name = "x", adapter = "crashing-decoder"}]')
                     .replace("eval_batch_size", "allow_overlap = true\neval_batch_size"))  # x reads toy-a's files
    result = bench(suite, out)
    assert result.exit_code == 1
    assert "RuntimeError: decoder crashed" in result.stderr
    # Everything that does not read "x" completes: 2 pre-evaluations, 2 fine-tunes, their 4 evaluations.
    assert len(records(out)) == 8
    assert all("x" not in (r["cell"]["ft_dataset"], r["cell"]["eval_dataset"]) for r in records(out))
    assert len(failures(out)) == 4  # x's pre-evaluation, its fine-tune, and the two evaluations on x


def test_a_dataset_plugin_crashing_while_listing_is_named_before_start(small_toy_env, bench):
    suite = small_grid_suite(small_toy_env)
    suite.write_text(suite.read_text().replace('"toy-b"]', '"toy-b", {name = "x", adapter = "crashing-listing"}]'))
    result = bench(suite, small_toy_env / "out")
    assert result.exit_code == 2
    assert "dataset 'x'" in result.stderr and "rib-test-faults" in result.stderr
    assert "RuntimeError: listing crashed" in result.stderr


# -- training that diverges --------------------------------------------------------------------------------------
def test_nan_or_inf_loss_fails_that_cell_with_the_step_and_last_finite_loss_and_the_others_go_on(small_toy_env, bench):
    out = small_toy_env / "out"
    strategies = ["ft", {"name": "diverge", "label": "nan"}, {"name": "diverge", "label": "inf", "value": "inf"}]
    result = bench(small_grid_suite(small_toy_env, strategies=strategies), out)
    assert result.exit_code == 1
    # ft's first step has the same loss as the diverging strategies' first step (same seed, data and weights).
    ft = {r["cell"]["ft_dataset"]: r["train_log"] for r in records(out) if r["kind"] == "finetune"}
    assert set(ft) == {"toy-a", "toy-b"}
    total = ft["toy-a"]["total_steps"]
    for f in failures(out):
        assert f["cell"]["kind"] == "finetune" and f["cell"]["strategy"] in ("nan", "inf")
        value = "nan" if f["cell"]["strategy"] == "nan" else "inf"
        first_loss = ft[f["cell"]["ft_dataset"]]["loss"][0]
        assert f["error"].startswith(f"training diverged at step 2/{total}: the loss is {value} "
                                     f"(last finite loss: {first_loss:.6g} at step 1).")
    assert len(failures(out)) == 4
    assert "Lower [training] lr" in result.stderr  # the advice survives the terminal's markup
    assert "8 cell(s) not run because a cell they depend on failed" in result.stderr


# -- out of memory in evaluation ---------------------------------------------------------------------------------
def test_out_of_memory_in_evaluation_halves_the_batch_records_it_and_changes_no_prediction(small_toy_env, bench):
    out = small_toy_env / "out"
    result = bench(small_grid_suite(small_toy_env, models=("tiny/a", "oom/4")), out)
    assert result.exit_code == 0, result.stderr
    evals = [r for r in records(out) if r["kind"] == "eval"]
    for r in evals:
        if r["cell"]["model"] == "oom/4" and r["n_images"] > 4:
            assert r["batch_size"] == 4  # 16 -> 8 -> 4
    assert sum(r["cell"]["model"] == "oom/4" and r["n_images"] > 4 for r in evals) >= 4
    assert {r["batch_size"] for r in evals if r["cell"]["model"] == "tiny/a"} == {16}
    # Batch sizes 4 and 16 run different CPU kernels: the predicted classes must agree exactly, the probabilities
    # only to float32 rounding (another CPU's kernels differ in the last bits).
    predictions = {cell: load_predictions(data) for cell, data in stored_predictions(out).items()}
    compared = 0
    for (model, strategy, ft_dataset, eval_dataset), got in predictions.items():
        if model == "oom/4":
            expected = predictions[("tiny/a", strategy, ft_dataset, eval_dataset)]
            assert torch.equal(got["positions"], expected["positions"])
            assert torch.equal(got["top_idx"][:, 0], expected["top_idx"][:, 0])
            torch.testing.assert_close(got["top_prob"], expected["top_prob"], rtol=0, atol=1e-5)
            compared += 1
    assert compared >= 4


def test_out_of_memory_even_at_batch_size_1_fails_the_cell_with_the_error(small_toy_env, bench):
    out = small_toy_env / "out"
    result = bench(small_grid_suite(small_toy_env, models=("oom/0",)), out)
    assert result.exit_code == 1
    pre = [f for f in failures(out) if f["cell"]["strategy"] is None]
    assert len(pre) == 2 and all("OutOfMemoryError: CUDA out of memory" in f["error"] for f in pre)


# -- torn and corrupt files are never read back as valid ---------------------------------------------------------
def test_corrupt_or_truncated_store_files_are_recomputed_never_trusted(small_toy_env, bench, run_rib):
    suite = small_grid_suite(small_toy_env)
    out = small_toy_env / "out"
    assert bench(suite, out).exit_code == 0
    before = stored_predictions(out)
    evals = sorted((r for r in records(out) if r["kind"] == "eval"), key=lambda r: r["key"])
    finetune = next(r for r in records(out) if r["kind"] == "finetune")
    store = Store(out)

    flipped = store.cell_dir(evals[0]["key"]) / "predictions.safetensors"
    data = bytearray(flipped.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in a prediction: same size, still parses as safetensors
    flipped.write_bytes(bytes(data))
    record = store.cell_dir(evals[1]["key"]) / "record.json"
    record.write_text(record.read_text()[:40])  # a record cut short
    weights = store.cell_dir(finetune["key"]) / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated weights
    (store.cell_dir(evals[2]["key"]) / ".record.json.x1.tmp").write_text("{")  # debris of a killed write

    assert store.record(evals[0]["key"]) is None and store.record(evals[1]["key"]) is None
    assert store.record(finetune["key"]) is None and store.record(evals[2]["key"]) is not None
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["incomplete_cells"] == 2  # the two damaged evaluations are missing, not misread

    again = bench(suite, out)
    assert again.exit_code == 0, again.stderr
    assert "3 cell(s) run, 5 reused" in again.stderr
    assert stored_predictions(out) == before


# -- Ctrl-C, and a second run on the same directory --------------------------------------------------------------
@pytest.mark.slow  # a real process, interrupted: the signal is the point
def test_ctrl_c_exits_130_keeps_finished_cells_and_a_second_bench_meanwhile_is_refused(small_toy_env, bench):
    # Batches of 2: ten slowed-down steps per epoch (the toy's sleep also slows its pretraining: keep it short).
    suite = small_grid_suite(small_toy_env, epochs=3, batch_size=2)
    out = small_toy_env / "out"
    env = toy_process_env(small_toy_env, RIB_TOY_STEP_SLEEP="0.1")
    with bench_process_at_first_checkpoint(suite, out, env, small_toy_env) as proc:
        second = bench(suite, out)
        assert second.exit_code == 1
        assert f"another rib run (pid {proc.pid} on {socket.gethostname()}" in second.stderr

        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted; finished cells are kept. Run the same command again to resume." in stderr
    assert "Traceback" not in stderr
    assert not (out / "rib.lock").exists()
    kept = records(out)
    assert len(kept) >= 2 and all(Store(out).record(r["key"]) is not None for r in kept)

    resumed = bench(suite, out)
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{8 - len(kept)} cell(s) run, {len(kept)} reused" in resumed.stderr
    logs = [r["train_log"] for r in records(out) if r["kind"] == "finetune"]
    assert any((log.get("resumed_from_step") or 0) > 0 for log in logs), "the interrupted fine-tune restarted"


def _write_lock(out: Path, pid: int, host: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "rib.lock").write_text(json.dumps({"pid": pid, "host": host, "since": "2025-01-01T00:00:00"}))


@pytest.mark.parametrize("holder", ["live-process-here", "other-host"])
def test_a_held_lock_refuses_naming_its_holder_and_starts_nothing(small_toy_env, bench, holder):
    out = small_toy_env / "out"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        host = socket.gethostname() if holder == "live-process-here" else "gpu-node-17"
        _write_lock(out, sleeper.pid, host)
        result = bench(small_grid_suite(small_toy_env), out)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.exit_code == 1
    assert f"another rib run (pid {sleeper.pid} on {host}, since 2025-01-01T00:00:00)" in result.stderr
    assert f"delete {out / 'rib.lock'}" in result.stderr
    assert not (out / "cells").exists() and not (out / "runs").exists()
    assert json.loads((out / "rib.lock").read_text())["pid"] == sleeper.pid  # the holder's lock is left alone


def test_a_stale_lock_of_a_dead_process_is_taken_over(small_toy_env, bench):
    out = small_toy_env / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    _write_lock(out, dead.pid, socket.gethostname())
    result = bench(small_grid_suite(small_toy_env), out)
    assert result.exit_code == 0, result.stderr
    assert len(records(out)) == 8 and not (out / "rib.lock").exists()


# -- disk ------------------------------------------------------------------------------------------------------------
def test_an_unwritable_results_directory_is_refused_before_any_work(small_toy_env, bench):
    blocker = small_toy_env / "a-file"
    blocker.write_text("a file where the results directory should be")
    result = bench(small_grid_suite(small_toy_env), blocker / "results")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"rib: error: results directory '{blocker / 'results'}' is not writable")
    assert "Choose another with --out" in result.stderr
    assert not (small_toy_env / "cache").exists()  # no image was even decoded


def test_a_full_disk_stops_with_a_clear_error_and_what_was_written_stays_valid(small_toy_env, bench, monkeypatch):
    suite = small_grid_suite(small_toy_env)
    reference = bench(suite, small_toy_env / "reference")
    assert reference.exit_code == 0

    real_write = store_module.atomic_write_bytes
    calls = []

    def fills_up(path, data):
        calls.append(path)
        if len(calls) >= 6:  # the 6th write and every later one: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, data)

    monkeypatch.setattr(store_module, "atomic_write_bytes", fills_up)
    out = small_toy_env / "out"
    result = bench(suite, out)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "rib: error: No space left on device: " in result.stderr
    assert "Free some space" in result.stderr and "finished cells are kept" in result.stderr
    written = records(out)
    assert len(written) == 2  # writes 1-5: the run manifest, then 2 x (predictions + record)
    assert all(Store(out).record(r["key"]) is not None for r in written)
    assert not list(out.rglob("*.tmp")) and not (out / "rib.lock").exists()

    monkeypatch.setattr(store_module, "atomic_write_bytes", real_write)
    resumed = bench(suite, out)
    assert resumed.exit_code == 0, resumed.stderr
    assert "6 cell(s) run, 2 reused" in resumed.stderr
    assert stored_predictions(out) == stored_predictions(small_toy_env / "reference")


def test_a_disk_with_room_only_for_small_files_stops_the_run_at_the_first_failed_write(small_toy_env, bench, monkeypatch):
    real_write = store_module.atomic_write_bytes
    stored = []

    def no_room_for_tensors(path, data):
        if Path(path).suffix == ".safetensors" and len(stored) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        stored.append(path)
        real_write(path, data)

    monkeypatch.setattr(store_module, "atomic_write_bytes", no_room_for_tensors)
    out = small_toy_env / "out"
    result = bench(small_grid_suite(small_toy_env), out)
    assert result.exit_code == 1 and "rib: error: No space left on device" in result.stderr
    assert len(failures(out)) <= 1


def test_an_atomic_write_that_fails_leaves_the_old_file_intact_and_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "cells" / "k" / "record.json"
    store_module.atomic_write_json(target, {"accuracy": 1.0})

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store_module.os, "fsync", no_space)
    with pytest.raises(OSError) as err:
        store_module.atomic_write_json(target, {"accuracy": 2.0})
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert json.loads(target.read_text()) == {"accuracy": 1.0}
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]


# -- safety: nothing is unpickled, nothing pickled is written -----------------------------------------------------
class PlantsAFile:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # unpickling this object runs open(marker, "w"): code execution
        return (open, (self.marker, "w"))


def test_a_malicious_pickle_in_a_weights_file_is_refused_without_running(tmp_path):
    from rib_core.models.base import load_state_dict_file

    marker = tmp_path / "pwned"
    evil = tmp_path / "weights.pth"
    torch.save({"head.weight": torch.zeros(2), "payload": PlantsAFile(str(marker))}, evil)
    with pytest.raises(RibError, match="weights_only=True"):
        load_state_dict_file(evil)
    assert not marker.exists()
    # The same bytes loaded unsafely would have run the payload: the test is able to fail.
    torch.load(evil, weights_only=False)
    assert marker.exists()


PICKLE_PREFIXES = tuple(bytes([0x80, protocol]) for protocol in range(2, 6)) + (b"PK\x03\x04",)  # + torch zip


def _kind_of(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(PICKLE_PREFIXES):
        return "pickle"
    try:
        json.loads(data)
        return "json"
    except ValueError:
        pass
    try:
        with safe_open(str(path), framework="pt") as f:
            list(f.keys())
        return "safetensors"
    except Exception:
        return "unknown"


def test_results_checkpoints_and_caches_are_json_or_safetensors_never_pickles(small_toy_env, bench):
    out = small_toy_env / "out"
    assert bench(small_grid_suite(small_toy_env), out).exit_code == 0
    # A finished fine-tune deletes its checkpoints; write one as a killed run leaves it, with optimizer state.
    from rib_core.engine.checkpoint import Run, save_checkpoint

    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    work = out / "cells" / "killed" / "work"
    work.mkdir(parents=True)
    save_checkpoint(work, {"format": 1}, net, optimizer, epoch=1, run=Run(total=2))
    files = [p for root in (out, small_toy_env / "cache") for p in root.rglob("*") if p.is_file()]
    kinds = {p.relative_to(small_toy_env).as_posix(): _kind_of(p) for p in files}
    assert any(k == "safetensors" for k in kinds.values()) and any("checkpoint" in p for p in kinds)
    assert {p: k for p, k in kinds.items() if k not in ("json", "safetensors")} == {}


def test_the_pickle_detector_recognises_pickles(tmp_path):
    for protocol in (2, 5):
        (tmp_path / f"p{protocol}").write_bytes(pickle.dumps({"a": 1}, protocol=protocol))
        assert _kind_of(tmp_path / f"p{protocol}") == "pickle"
    torch.save({"a": torch.zeros(1)}, tmp_path / "t.pt")
    assert _kind_of(tmp_path / "t.pt") == "pickle"
