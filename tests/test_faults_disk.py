"""A full disk during any write, on a real full file system (a small tmpfs, ENOSPC) and under a file-size limit
(`ulimit -f`, EFBIG): the run stops at the first failed write with one message, whichever library wrote (safetensors
raises SafetensorError, not OSError), and nothing stored is lost or half-written."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rib_core.testing import toy
from rib_core.api import Strategy, hookimpl
from rib_core.disk import DiskFull, atomic_write_json, disk_full
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
FREE_SPACE = "Free some space (or use another --out / RIB_CACHE_DIR) and run the same command again"


@pytest.fixture
def full_disk(tmp_path, request):
    """A folder on a tmpfs of its own, filled to the last byte: every write of a byte there fails with ENOSPC.
    With `@pytest.mark.parametrize("full_disk", [N], indirect=True)`: N pages (4 kB) left free."""
    mount = tmp_path / "full-disk"
    mount.mkdir()
    if sys.platform != "linux":
        pytest.skip("mounts a tmpfs: Linux only")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        fd = os.open(mount / "filler", os.O_CREAT | os.O_WRONLY)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        free_pages = getattr(request, "param", 0)
        if free_pages:
            os.truncate(mount / "filler", (mount / "filler").stat().st_size - 4096 * free_pages)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_up(full_disk: Path) -> None:
    (full_disk / "filler").unlink()


@pytest.fixture
def toy_world(tmp_path, monkeypatch, register_plugin):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    return tmp_path


def bench(run_rib, world: Path, out: Path):
    return run_rib("bench", "-c", str(world / "suite.toml"), "--out", str(out), "--device", "cpu", "--workers", "0",
                   "--no-report")


def stored(out: Path) -> dict[str, bytes]:
    """Every valid cell's record and files, by cell key (a record that fails its checks is not counted)."""
    store, found = Store(out), {}
    for path in sorted(out.glob("cells/*/record.json")):
        record = store.record(path.parent.name)
        assert record is not None, f"a record that is not valid was left: {path}"
        found[path.parent.name] = record
    return found


def temporary_files(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("full_disk", [1], indirect=True)  # room for rib's check that the cache is writable
def test_a_full_disk_while_writing_an_image_cache_shard_stops_the_run(toy_world, full_disk, run_rib, monkeypatch):
    monkeypatch.setenv("RIB_CACHE_DIR", str(full_disk / "cache"))
    out = toy_world / "out"
    result = bench(run_rib, toy_world, out)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and "SafetensorError" not in result.stderr
    assert f"rib: error: No space left on device: {full_disk / 'cache' / 'images'}" in result.stderr
    assert "shard-00000.safetensors" in result.stderr and FREE_SPACE in result.stderr
    assert "failed or skipped" not in result.stderr  # stopped: not one failed cell after another
    assert not list(out.glob("cells/*/failed.json")) and stored(out) == {}
    assert not temporary_files(out, full_disk) and not (out / "rib.lock").exists()
    assert not list((full_disk / "cache").rglob("manifest.json"))  # no cache that looks complete

    free_up(full_disk)
    resumed = bench(run_rib, toy_world, out)
    assert resumed.exit_code == 0, resumed.stderr
    assert "8 cell(s) run, 0 reused" in resumed.stderr and len(stored(out)) == 8


def _reference_run(run_rib, world: Path) -> dict[str, bytes]:
    out = world / "reference"
    assert bench(run_rib, world, out).exit_code == 0
    return {p.parent.name: p.read_bytes() for p in out.glob("cells/*/predictions.safetensors")}


def test_a_file_size_limit_while_writing_an_epoch_checkpoint_stops_the_run(toy_world, run_rib):
    reference = _reference_run(run_rib, toy_world)
    out = toy_world / "out"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # Records, predictions and cache shards of the toy suite stay under 10 kB; an epoch checkpoint (weights,
    # momentum and RNG states) is about 35 kB. Python ignores SIGXFSZ, so a write past the limit fails (EFBIG).
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:
        result = bench(run_rib, toy_world, out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and "SafetensorError" not in result.stderr
    assert "rib: error: File too large: " in result.stderr and "/work/checkpoint-" in result.stderr
    assert FREE_SPACE in result.stderr and "failed or skipped" not in result.stderr
    kept = stored(out)
    assert {r["cell"]["kind"] for r in kept.values()} == {"eval"} and len(kept) == 2  # the pre-evaluations
    assert not list(out.glob("cells/*/failed.json")) and not temporary_files(out)
    assert not list(out.glob("cells/*/work/checkpoint*"))  # no checkpoint, whole or partial

    resumed = bench(run_rib, toy_world, out)
    assert resumed.exit_code == 0, resumed.stderr
    assert "6 cell(s) run, 2 reused" in resumed.stderr
    assert {p.parent.name: p.read_bytes() for p in out.glob("cells/*/predictions.safetensors")} == reference


class FillsTheDisk(Strategy):
    """ft whose setup saves a tensor file of its own (as EWC caches its Fisher) where $RIB_TEST_FULL_DISK says."""

    def setup(self, ctx):
        from safetensors.torch import save_file

        save_file({"x": torch.zeros(4096)}, os.path.join(os.environ["RIB_TEST_FULL_DISK"], "fisher.safetensors"))


class FillsTheDiskPlugin:
    @hookimpl
    def register_strategies(self, register):
        register("fills-disk", "tests.test_faults_disk:FillsTheDisk", "writes a file of its own in setup (tests)")


def test_a_plugins_own_write_to_a_full_disk_stops_the_run_too(toy_world, full_disk, run_rib, register_plugin,
                                                              monkeypatch):
    register_plugin(FillsTheDiskPlugin(), "rib-test-fills-disk")
    monkeypatch.setenv("RIB_TEST_FULL_DISK", str(full_disk))
    (toy_world / "suite.toml").write_text(SUITE.replace('strategies = ["ft"]', 'strategies = ["fills-disk"]'))
    out = toy_world / "out"
    result = bench(run_rib, toy_world, out)
    assert result.exit_code == 1, result.stderr
    # safetensors' SafetensorError names no file and no errno, only "No space left on device (os error 28)"
    assert "rib: error: No space left on device\n" in result.stderr and FREE_SPACE in result.stderr
    assert "Traceback" not in result.stderr and "failed or skipped" not in result.stderr
    assert len(stored(out)) == 2 and not list(out.glob("cells/*/failed.json"))  # the pre-evaluations, then stop


def _writers(folder: Path):
    """One call per kind of file rib writes, each into `folder`."""
    from rib_core.data.check import write_manifest
    from rib_core.data.images import open_images
    from rib_core.data.unpack import _write
    from rib_core.demo.datasets import generate_domain
    from rib_core.engine.checkpoint import Run, save_checkpoint
    from rib_core.engine.locks import write_holder
    from rib_core.engine.store import save_tensors

    model = torch.nn.Linear(64, 64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    adapter = toy.ToyDataset("toy-a", None)
    preprocess = toy.load("tiny/a", weights=None, options={}).preprocess
    yield "record", lambda: Store(folder).write_record("k", {"accuracy": 1.0, "padding": "x" * 8192})
    yield "run manifest", lambda: Store(folder).write_run("toy", {"cells": ["x" * 8192]})
    yield "predictions", lambda: save_tensors(folder / "predictions.safetensors", {"x": torch.zeros(4096)})
    yield "epoch checkpoint", lambda: save_checkpoint(folder / "work", {}, model, optimizer, epoch=1, run=Run(1))
    yield "image cache shard", lambda: open_images(adapter, adapter.samples(), preprocess, folder / "images")
    yield "demo images", lambda: generate_domain("photo", folder / "demo-photo", images_per_class=2)
    yield "data manifest", lambda: write_manifest(adapter, folder / "toy-a.json")
    yield "lock file", lambda: write_holder(folder / "rib.lock", exclusive=True)
    yield "unpacked file", lambda: _write(__import__("io").BytesIO(b"\0" * 8192), folder / "unpacked" / "x.bin")
    yield "json", lambda: atomic_write_json(folder / "x.json", {"x": "y" * 8192})


def test_a_cache_folder_on_a_full_disk_is_refused_before_any_work(toy_world, full_disk, run_rib, monkeypatch):
    monkeypatch.setenv("RIB_CACHE_DIR", str(full_disk / "cache"))
    result = bench(run_rib, toy_world, toy_world / "out")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert f"rib: error: No space left on device: {full_disk}/.rib-write-test-" in result.stderr
    assert FREE_SPACE in result.stderr and not (toy_world / "out").exists()


def test_every_writer_reports_a_full_disk_as_one_naming_its_file(toy_world, full_disk):
    for what, write in _writers(full_disk / "sub"):
        with pytest.raises(DiskFull) as caught:
            write()
        message = str(caught.value)
        assert message.startswith(f"No space left on device: {full_disk / 'sub'}"), (what, message)
        assert FREE_SPACE in message, what
        assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError), what
    left = [p for p in (full_disk / "sub").rglob("*") if p.is_file() and p.stat().st_size]
    assert left == [], f"half-written files left: {left}"
    assert not temporary_files(full_disk)


def test_a_plugins_own_full_disk_error_is_recognised_whatever_raised_it():
    from safetensors import SafetensorError

    cases = [OSError(errno.ENOSPC, "No space left on device", "/x"), OSError(errno.EDQUOT, "Disk quota exceeded"),
             SafetensorError("Error while serializing: I/O error: File too large (os error 27)"),
             RuntimeError("could not write: [Errno 28] No space left on device")]
    for exc in cases:
        assert isinstance(disk_full(exc), DiskFull), exc
    wrapped = RuntimeError("saving the Fisher matrix failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert disk_full(wrapped) is not None
    for exc in (OSError(errno.ENOENT, "No such file"), ValueError("os error 2"), RuntimeError("nan loss")):
        assert disk_full(exc) is None, exc
