"""Identities from file digests in the cell keys of cached and hub models: a changed cached demo backbone (pretrained
again on another CPU, or damaged) or changed timm hub weights give new keys, so old and new results are never
mixed in one report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rib_core.demo import backbones, pretrain
from rib_core.models import digests
from rib_core.testing.toy import make_world, toml_value, write_suite

TINY = {"depth": 1, "embed_dim": 32, "num_heads": 2, "img_size": 32}
VIT = "vit_tiny_patch16_224.augreg_in21k_ft_in1k"


@pytest.fixture(scope="module")
def toy_world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def demo_suite(toy_world, tmp_path, rib_cache, monkeypatch):
    """The toy suite on the cached demo/narrow (no weights file), whose pretraining is a counted no-op."""
    calls = []
    monkeypatch.setattr(pretrain, "train", lambda model, recipe, progress=None: calls.append(recipe) or model)
    suite = write_suite(tmp_path / "suite.toml", toy_world, strategies=("ft",), models=["demo/narrow"])
    return suite, calls


def bench(run_rib, suite: Path, out: Path, *extra: str):
    return run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "0",
                   "--no-report", *extra)


def reported_identities(out: Path) -> set[str]:
    """The backbone identity of every record the suite's run manifest names."""
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    return {json.loads((out / "cells" / c["key"] / "record.json").read_text())["backbone"]
            for c in manifest["cells"]}


def test_a_changed_cached_demo_backbone_gives_new_keys_and_is_never_mixed(demo_suite, rib_cache, run_rib):
    suite, pretrainings = demo_suite
    out = rib_cache.parent / "out"
    cached = backbones.weights_path("narrow")

    dry = bench(run_rib, suite, out, "--dry-run", "--no-calibrate")
    assert dry.exit_code == 0 and not cached.exists() and pretrainings == []  # planning never pretrains

    first = bench(run_rib, suite, out)
    assert first.exit_code == 0, first.stderr
    assert len(pretrainings) == 1 and cached.is_file()
    assert reported_identities(out) == {f"demo/narrow@{digests.digest_of(cached)}"}
    again = bench(run_rib, suite, out)
    cells = len(json.loads((out / "runs" / "toy.json").read_text())["cells"])
    assert again.exit_code == 0 and f"0 cell(s) run, {cells} reused" in again.stderr  # keys named the file already

    # The cached backbone changes: pretrained again elsewhere (other bytes), or damaged.
    other = backbones.build_model(seed=7)
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(cached))
    changed = bench(run_rib, suite, out)
    assert changed.exit_code == 0, changed.stderr
    assert f"{cells} cell(s) run, 0 reused" in changed.stderr  # everything again, with the new backbone
    assert reported_identities(out) == {f"demo/narrow@{digests.digest_of(cached)}"}  # not one old result
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["incomplete_cells"] == 0
    assert len(pretrainings) == 1  # the file was there: not pretrained again


def _put_tiny_vit(put_in_hf_cache, tmp_path, seed: int) -> str:
    import timm

    torch.manual_seed(seed)
    model = timm.create_model(VIT, pretrained=False, **TINY)
    path = tmp_path / f"vit-{seed}.safetensors"
    save_file(model.state_dict(), str(path))
    return put_in_hf_cache(f"timm/{VIT}", "model.safetensors", path)


def _keys(suite_path: Path, registry) -> list[str]:
    from rib_core.config import load_suite
    from rib_core.engine.plan import build_plan
    from rib_core.engine.prepare import prepare
    suite = load_suite(suite_path, None, registry=registry)
    return sorted(c.key for c in build_plan(prepare(suite, registry)))


def test_timm_hub_weights_enter_the_keys_by_the_digest_of_the_cached_file(tmp_path, put_in_hf_cache, offline_hub,
                                                                          rib_registry, rib_cache):
    from rib_core.models.timm_loader import timm_identity

    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.s]\nmodels = [{{ name = "timm:{VIT}", model_kwargs = {toml_value(TINY)} }}]\n'
                     'datasets = ["imagenet-r", "imagenet-a"]\nstrategies = ["ft"]\n')
    assert timm_identity(VIT, options={"model_kwargs": TINY}).endswith(f"@hf-hub:timm/{VIT}")  # not cached yet

    first = _put_tiny_vit(put_in_hf_cache, tmp_path, seed=0)
    identity = timm_identity(VIT, options={"model_kwargs": TINY})
    assert identity.endswith("@" + first[:16]) and "+kwargs-" in identity
    from rib_core.models.timm_loader import load

    assert load(f"timm:{VIT}", weights=None, options={"model_kwargs": TINY}).identity == identity  # as records say
    before = _keys(suite, rib_registry)

    for link in offline_hub.glob("models--*/snapshots/*/model.safetensors"):
        link.unlink()  # the hub's file changed (a new revision)
    second = _put_tiny_vit(put_in_hf_cache, tmp_path, seed=1)
    assert second != first
    after = _keys(suite, rib_registry)
    assert set(before).isdisjoint(after) and len(before) == len(after)


def test_a_big_weights_file_is_hashed_once_per_size_and_modification_time(tmp_path, rib_cache, monkeypatch):
    import hashlib
    import os

    monkeypatch.setattr(digests, "BIG_FILE", 1000)
    hashed = []
    real = digests.sha256_file
    monkeypatch.setattr(digests, "sha256_file", lambda path: hashed.append(path) or real(path))
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"x" * 5000)
    expected = hashlib.sha256(big.read_bytes()).hexdigest()[:16]
    assert digests.digest_of(big) == digests.digest_of(big) == expected
    assert len(hashed) == 1 and list((rib_cache / "file-digests").glob("*.json"))  # the second read the memo
    big.write_bytes(b"y" * 5000)  # same size, new bytes and modification time
    os.utime(big, ns=(big.stat().st_atime_ns, big.stat().st_mtime_ns + 10**9))
    assert digests.digest_of(big) == hashlib.sha256(b"y" * 5000).hexdigest()[:16] and len(hashed) == 2
    small = tmp_path / "small.safetensors"
    small.write_bytes(b"z" * 10)
    digests.digest_of(small), digests.digest_of(small)
    assert len(hashed) == 4  # small files are hashed every time (bit rot is seen)
