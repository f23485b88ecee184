"""Issue 14, once a suite has run: stored data is verified when read back, a refused run leaves results alone,
shard and normal runs share one lock, SIGTERM ends a run like Ctrl-C, and stored files respect the umask."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess

import numpy as np
import pytest
import torch

from rib_core.data import cache_check
from rib_core.data.fixtures import make_dataset_tree
from rib_core.data.images import open_images
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.engine.store import Store, atomic_write_json
from rib_core.preprocess import Preprocess
from tests.helpers import bench_process_at_first_checkpoint, records, small_grid_suite, toy_process_env

PRE = Preprocess(input_size=16, resize_size=18)


def snapshot(out) -> dict:
    return {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_refused_run_does_not_touch_complete_results(small_toy_env, bench, run_rib):
    out = small_toy_env / "out"
    suite = small_grid_suite(small_toy_env)
    assert bench(suite, out).exit_code == 0
    before = snapshot(out)
    for bad in ("lr = inf", "lr = 0.05\nmomentum = -5", "lr = 0.05\nweight_decay = -1", "lr = 0.05\nclip_grad = -1.0"):
        suite.write_text(suite.read_text().replace("lr = 0.05", bad, 1))
        result = bench(suite, out)
        assert result.exit_code == 2, result.stderr
        assert snapshot(out) == before, bad
        suite = small_grid_suite(small_toy_env)
    report = run_rib("report", str(out), "--format", "json")
    assert report.exit_code == 0 and "missing" not in report.stderr


def test_an_edited_record_is_not_trusted_and_is_computed_again(small_toy_env, bench):
    out = small_toy_env / "out"
    suite = small_grid_suite(small_toy_env)
    assert bench(suite, out).exit_code == 0
    path = next(p for p in sorted(out.glob("cells/*/record.json")) if json.loads(p.read_text())["kind"] == "eval")
    record = json.loads(path.read_text())
    true_accuracy = record["accuracy"]
    record["accuracy"] = 99.5  # still valid JSON: only the checksum can tell
    path.write_text(json.dumps(record))
    assert Store(out).record(record["key"]) is None
    rerun = bench(suite, out)
    assert rerun.exit_code == 0 and "1 cell(s) run, 7 reused" in rerun.stderr
    assert json.loads(path.read_text())["accuracy"] == true_accuracy


def test_a_corrupted_cache_shard_is_found_when_opened_and_decoded_again(tmp_path):
    root = make_dataset_tree("imagenet-r", tmp_path / "data", n_classes=3, per_class=4)
    adapter = ImageNetR("imagenet-r", root)
    samples = adapter.samples()
    built = open_images(adapter, samples, PRE, tmp_path / "cache", shard_images=5)
    truth = torch.stack([PRE.to_uint8(adapter.open_image(s.path)) for s in samples])
    shard = built.cache_path / "shard-00001.safetensors"
    data = bytearray(shard.read_bytes())
    data[-100:] = bytes(255 - b for b in data[-100:])  # bit rot in the pixels: the header still parses
    stamp = shard.stat()
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    cache_check._verified.clear()  # a new run
    reopened = open_images(adapter, samples, PRE, tmp_path / "cache", shard_images=5)
    assert reopened.decoded == 5  # that shard, and only it, was decoded again
    pixels = torch.cat([b for b, _ in reopened.batches(np.arange(12), 12)])
    assert torch.equal(pixels, truth)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_stored_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "runs" / "s.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "runs" / "s.json").stat().st_mode) == mode


def test_a_shard_run_and_a_normal_run_exclude_each_other(small_toy_env, bench):
    out = small_toy_env / "out"
    suite = small_grid_suite(small_toy_env)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        out.mkdir()
        holder = {"pid": sleeper.pid, "host": socket.gethostname(), "since": "2025-01-01T00:00:00"}
        (out / "rib.lock").write_text(json.dumps(holder))
        shard = bench(suite, out, "--shard", "1/1")
        assert shard.exit_code == 1 and f"a normal rib run (pid {sleeper.pid}" in shard.stderr, shard.stderr
        assert not (out / "cells").exists()
        (out / "rib.lock").unlink()
        (out / f"rib.lock.shard-{socket.gethostname()}-{sleeper.pid}").write_text(json.dumps(holder))
        normal = bench(suite, out)
        assert normal.exit_code == 1 and f"shard runs (pid {sleeper.pid}" in normal.stderr, normal.stderr
        assert not (out / "cells").exists()
        other_shard = bench(suite, out, "--shard", "1/1")  # shards share the directory
        assert other_shard.exit_code == 0, other_shard.stderr
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.slow  # a real process, terminated: the signal is the point
def test_sigterm_exits_143_with_a_message_and_keeps_finished_cells(small_toy_env):
    suite = small_grid_suite(small_toy_env, epochs=3, batch_size=2)
    out = small_toy_env / "out"
    env = toy_process_env(small_toy_env, RIB_TOY_STEP_SLEEP="0.1")
    with bench_process_at_first_checkpoint(suite, out, env, small_toy_env) as proc:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM); finished cells are kept. Run the same command again to resume." in stderr
    assert "Traceback" not in stderr and not (out / "rib.lock").exists()
    assert all(Store(out).record(r["key"]) is not None for r in records(out))
