"""Bad input beyond docs/reliability.md's first list: environment variables that are not numbers, results folders
rib cannot use, a cache folder that is a file, a device torch cannot compute on, a weights file that is not
weights, an edited run manifest, and file names that are not UTF-8. Each is refused (or handled) before any
work, with a message that says what to do."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rib_core.testing import toy
from rib_core.engine.store import Store

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b"]
strategies = ["ft"]

[suites.toy.training]
epochs = 1
batch_size = 8
"""


@pytest.fixture
def world(tmp_path, monkeypatch, register_plugin):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    (tmp_path / "suite.toml").write_text(SUITE)
    return tmp_path


def bench(run_rib, world: Path, out: Path, *extra: str):
    return run_rib("bench", "-c", str(world / "suite.toml"), "--out", str(out), "--device", "cpu", "--workers", "0",
                   "--no-report", *extra)


def files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def refused(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("rib: error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


# -- environment variables ----------------------------------------------------------------------------------
@pytest.mark.parametrize("variable, value, expected", [
    ("RIB_LOCK_TTL", "abc", "RIB_LOCK_TTL='abc' is not a number >= 1 (seconds without a heartbeat"),
    ("RIB_LOCK_TTL", "-5", "RIB_LOCK_TTL='-5' is not a number >= 1"),
    ("WORLD_SIZE", "two", "WORLD_SIZE='two' is not a whole number >= 1 (torchrun's process count)"),
    ("RIB_PROGRESS_EVERY", "often", "RIB_PROGRESS_EVERY='often' is not a number >= 0"),
])
def test_an_environment_variable_that_is_not_a_number_is_refused_naming_it(world, run_rib, monkeypatch, variable,
                                                                           value, expected):
    monkeypatch.setenv(variable, value)
    out = world / "out"
    result = bench(run_rib, world, out)
    refused(result, expected, "Set it to such a number (default ", "or unset it.")
    assert not list(out.glob("cells/*/record.json")) and not (out / "rib.lock").exists()


def test_shard_poll_that_is_not_a_number_is_refused(world, run_rib, monkeypatch):
    monkeypatch.setenv("RIB_SHARD_POLL", "soon")
    refused(bench(run_rib, world, world / "out", "--shard", "1/2"), "RIB_SHARD_POLL='soon' is not a number")


# -- the results folder ---------------------------------------------------------------------------------------
def test_an_out_name_longer_than_the_file_system_allows_is_refused(world, run_rib):
    out = world / ("x" * 300) / "results"
    refused(bench(run_rib, world, out), "holds a name of 300 bytes", "allows at most 255", "Choose a shorter --out")


@pytest.mark.parametrize("entry", ["runs", "cells", "cells/<key>"])
def test_a_file_where_rib_needs_a_folder_in_the_results_directory_is_refused(world, run_rib, entry):
    out = world / "out"
    assert bench(run_rib, world, out).exit_code == 0
    if entry == "cells/<key>":
        key = sorted(p.name for p in (out / "cells").iterdir())[0]
        shutil.rmtree(out / "cells" / key)
        entry = f"cells/{key}"
    else:
        shutil.rmtree(out / entry)
    (out / entry).write_text("not rib's")
    before = files_under(out)
    result = bench(run_rib, world, out)
    refused(result, f"'{out / entry}' is a file, not a folder: rib keeps ", "Move ", "or choose another --out")
    assert files_under(out) == before  # refused before any write


# -- the cache folder, the device, the weights ---------------------------------------------------------------
@pytest.mark.parametrize("where", ["is-a-file", "under-a-file"])
def test_a_cache_folder_that_is_a_file_is_refused_before_any_work(world, run_rib, monkeypatch, where):
    (world / "a-file").write_text("x")
    cache = world / "a-file" if where == "is-a-file" else world / "a-file" / "cache"
    monkeypatch.setenv("RIB_CACHE_DIR", str(cache))
    result = bench(run_rib, world, world / "out")
    refused(result, f"RIB_CACHE_DIR '{cache}' ", "not a folder: rib keeps decoded images",
            "Point RIB_CACHE_DIR at a folder rib may write")
    assert not (world / "out").exists()


@pytest.mark.parametrize("device, expected", [
    ("meta", "--device meta holds shapes but no data"),
    ("mps", "--device mps: this torch has no usable MPS backend here"),
])
def test_a_device_torch_cannot_compute_on_is_refused_before_any_work(world, run_rib, device, expected):
    import torch

    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    result = run_rib("bench", "-c", str(world / "suite.toml"), "--out", str(world / "out"), "--device", device,
                     "--no-report")
    refused(result, expected, "Use --device auto")
    assert not list((world / "out").glob("cells/*"))


@pytest.mark.parametrize("name, content, expected", [
    ("w.safetensors", b"hello", "is not a safetensors file (Error while deserializing header"),
    ("w.pth", b"hello\n", "is neither a safetensors file nor a torch file (it starts with b'hello\\n')"),
])
def test_weights_that_are_not_weights_are_refused_before_any_work(world, run_rib, name, content, expected):
    weights = world / name
    weights.write_bytes(content)
    result = bench(run_rib, world, world / "out", "--weights", str(weights))
    refused(result, "cannot start suite 'toy'", f"model 'tiny/a': weights file '{weights}' {expected}",
            "Give a .safetensors file (or a torch state dict file) saved from this model.")
    assert not (world / "out").exists()


def test_real_weights_files_pass_the_check(tmp_path):
    import torch
    from safetensors.torch import save_file

    from rib_core.engine.preflight import weights_file_problem

    state = {"w": torch.zeros(2)}
    save_file(state, str(tmp_path / "a.safetensors"))
    torch.save(state, tmp_path / "b.pth")
    torch.save(state, tmp_path / "c.pt", _use_new_zipfile_serialization=False)  # a legacy pickle
    assert [weights_file_problem("m", tmp_path / n) for n in ("a.safetensors", "b.pth", "c.pt")] == [None] * 3


# -- the run manifest -------------------------------------------------------------------------------------------
def test_an_edited_run_manifest_is_refused_by_report_and_status_not_used(world, run_rib):
    out = world / "out"
    assert bench(run_rib, world, out).exit_code == 0
    reported = run_rib("report", str(out), "--format", "json")
    assert reported.exit_code == 0
    manifest_path = out / "runs" / "toy.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["checksum"]
    # Swap the datasets of two post-evaluations: the report would pair and label them wrongly.
    evals = [c for c in manifest["cells"] if c["kind"] == "eval" and c["strategy"] is not None]
    evals[0]["eval_dataset"], evals[1]["eval_dataset"] = evals[1]["eval_dataset"], evals[0]["eval_dataset"]
    manifest_path.write_text(json.dumps(manifest))
    edited = manifest_path.read_bytes()
    for command in (("report", str(out)), ("status", str(out))):
        result = run_rib(*command)
        refused(result, f"{manifest_path} does not match its checksum: it was edited or damaged",
                "which results make up the report of suite 'toy'", "Run the same 'rib bench' command again")
    assert manifest_path.read_bytes() == edited  # reported, left for the user to look at

    again = bench(run_rib, world, out)
    assert again.exit_code == 0 and "0 cell(s) run, 8 reused" in again.stderr  # written afresh, nothing redone
    now, before = json.loads(run_rib("report", str(out), "--format", "json").stdout), json.loads(reported.stdout)
    assert now.pop("run")["planned_at"] >= before.pop("run")["planned_at"] and now == before  # planned anew


def test_a_run_manifest_from_before_checksums_is_still_read(world, run_rib):
    out = world / "out"
    assert bench(run_rib, world, out).exit_code == 0
    path = out / "runs" / "toy.json"
    manifest = json.loads(path.read_text())
    del manifest["checksum"]
    path.write_text(json.dumps(manifest))
    assert run_rib("report", str(out), "--format", "json").exit_code == 0
    assert Store(out).runs()[0]["suite"] == "toy"


# -- file names that are not UTF-8 ------------------------------------------------------------------------------
def test_a_file_name_that_is_not_utf8_works_in_bench(world, run_rib):
    red = world / "data" / "toy-a" / "red"
    shutil.copy(red / "000.png", os.path.join(os.fsencode(red), b"caf\xe9.png"))  # a Latin-1 name
    out = world / "out"
    result = bench(run_rib, world, out)
    assert result.exit_code == 0, result.stderr
    records = [json.loads(p.read_text()) for p in out.glob("cells/*/record.json")]
    pre_a = [r for r in records if r["cell"]["strategy"] is None and r["cell"]["eval_dataset"] == "toy-a"]
    assert pre_a[0]["n_images"] == 25 and pre_a[0]["unreadable"] == []  # the image was read, under its own name
    again = bench(run_rib, world, out)
    assert again.exit_code == 0 and "0 cell(s) run, 8 reused" in again.stderr  # its keys are stable


def test_datasets_check_names_a_non_utf8_file_printably_like_bench_does(tmp_path, run_rib, rib_registry):
    from rib_core.data.fixtures import make_dataset_tree

    root = make_dataset_tree("imagenet-r", tmp_path / "data")
    folder = os.fsencode(next(p for p in sorted(root.iterdir()) if p.is_dir()))
    first = next(p for p in sorted(os.listdir(folder)) if p.lower().endswith((b".jpeg", b".jpg", b".png"))
                 and not p.startswith(b"."))
    shutil.copy(os.path.join(folder, first), os.path.join(folder, b"caf\xe9.jpg"))  # readable
    with open(os.path.join(folder, b"cass\xe9.jpg"), "wb") as f:  # unreadable
        f.write(b"not a jpeg")
    result = run_rib("datasets", "check", "imagenet-r", "--data-root", str(tmp_path / "data"), "--deep")
    result.stdout.encode("utf-8")  # printable on a strict UTF-8 terminal: no surrogate escapes
    assert "cass\\xe9.jpg" in result.stdout.replace("\n", "").replace(" ", "")
    assert "caf\\xe9.jpg" not in result.stdout  # the readable one is just counted
    checked = json.loads(run_rib("datasets", "check", "imagenet-r", "--data-root", str(tmp_path / "data"),
                                 "--deep", "--json").stdout)[0]
    assert checked["images"] == 3 * 2 + 2 and len(checked["unreadable"]) == 1
