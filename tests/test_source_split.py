"""eval_images = "held-out-sources": datasets made from the ImageNet-1k val images are split by source image.

Checked on the real layouts' file names (rib_core.data.fixtures), against an independent computation of the split
(hashlib here, a regular expression on the file names there), comparing sets of source ids, never floats.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re

import numpy as np
import pytest

from rib_core.api import hookimpl
from rib_core.data.base import Sample
from rib_core.data.fixtures import FIXTURE_CORRUPTIONS, FIXTURE_SEVERITIES, fixture_classes, make_dataset_tree
from rib_core.data.source_split import is_finetune_source, source_id, split_by_source
from rib_core.errors import DataError
from rib_core.strategies.builtin import FullFineTune

SHARING = ("imagenet-val", "imagenet-c", "imagenet-cartoon", "imagenet-drawing")
ADAPTERS = {"imagenet-val": "ImageNetVal", "imagenet-c": "ImageNetC", "imagenet-cartoon": "ImageNetCartoon",
            "imagenet-drawing": "ImageNetDrawing", "imagenet-r": "ImageNetR"}
VAL_NAME = re.compile(r"^(ILSVRC2012_val_\d{8})\.JPEG$")


def adapter_for(name: str, data_root):
    from rib_core.plugins import get_registry

    root = make_dataset_tree(name, data_root, n_classes=3, per_class=4)
    cls = get_registry().get("datasets", name).load()
    assert cls.__name__ == ADAPTERS[name]
    return cls(name, root, {"adapter": name})


def expected_ids(name: str, path: str) -> str:
    """Independently of rib's parser: the file name minus '.JPEG', after checking the real layout's folders."""
    parts = path.split("/")
    assert len(parts) == (4 if name == "imagenet-c" else 2), path
    if name == "imagenet-c":
        assert parts[0] in FIXTURE_CORRUPTIONS and int(parts[1]) in FIXTURE_SEVERITIES
    assert re.fullmatch(r"n\d{8}", parts[-2])
    return VAL_NAME.match(parts[-1]).group(1)


def independent_is_ft(source: str, split: float, seed: int) -> bool:
    digest = hashlib.blake2b(f"{seed}:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < split * 2 ** 64


# -- (a) the id of every sample, on the real layouts' file names ---------------------------------------------------
def test_each_sharing_dataset_maps_its_samples_to_the_val_images_it_renders(tmp_path):
    ids_by_dataset = {}
    for name in SHARING:
        adapter = adapter_for(name, tmp_path / "data")
        assert adapter.source_images == "imagenet-1k-val"
        samples = adapter.samples()
        ids = [source_id(s.path) for s in samples]
        assert ids == [expected_ids(name, s.path) for s in samples]
        ids_by_dataset[name] = ids
    val = set(ids_by_dataset["imagenet-val"])
    # The fixtures write the same 12 val images in every dataset; ImageNet-C holds each 3 corruptions x 2 severities.
    assert len(val) == 12 and all(set(ids) == val for ids in ids_by_dataset.values())
    assert sorted(ids_by_dataset["imagenet-c"]) == sorted(list(val) * len(FIXTURE_CORRUPTIONS) * len(FIXTURE_SEVERITIES))
    assert val == {f"ILSVRC2012_val_{c * 50 + i + 1:08d}" for c in fixture_classes("imagenet-val", 3) for i in range(4)}


def test_datasets_of_their_own_images_share_no_sources(tmp_path):
    assert adapter_for("imagenet-r", tmp_path / "data").source_images is None


def test_the_id_comes_from_the_file_name_only():
    assert source_id("fog/5/n01443537/ILSVRC2012_val_00000293.JPEG") == "ILSVRC2012_val_00000293"
    assert source_id("n01443537/ilsvrc2012_val_00000293.png") == "ILSVRC2012_val_00000293"
    assert source_id("ILSVRC2012_val_00000293/cartoon_1.jpg") is None  # a folder name is no file name
    assert source_id("n01443537/sketch_3.JPEG") is None


# -- (b) one global split ----------------------------------------------------------------------------------------
def test_the_split_puts_a_source_on_the_same_side_in_every_dataset_whatever_their_order(tmp_path):
    split, seed = 0.5, 3
    sides = {}
    for name in SHARING:
        samples = adapter_for(name, tmp_path / "data").samples()
        shuffled = samples[:]
        random.Random(7).shuffle(shuffled)
        for order in (samples, shuffled, samples[::2]):
            ft, held = split_by_source(order, split, seed, name)
            assert sorted(np.concatenate([ft, held]).tolist()) == list(range(len(order)))
            ft_ids = {expected_ids(name, order[p].path) for p in ft}
            held_ids = {expected_ids(name, order[p].path) for p in held}
            assert not ft_ids & held_ids
            sides.setdefault(name, []).append((ft_ids, held_ids))
            assert all(independent_is_ft(i, split, seed) for i in ft_ids)
            assert not any(independent_is_ft(i, split, seed) for i in held_ids)
    full = sides["imagenet-val"][0]
    assert full[0] and full[1]  # both sides hold sources: the checks above can fail
    for name, per_order in sides.items():
        assert per_order[0] == per_order[1] == full, name
        assert per_order[2][0] <= full[0] and per_order[2][1] <= full[1], name


def test_the_fine_tuning_fraction_of_10000_sources_is_near_split():
    ids = [f"ILSVRC2012_val_{n:08d}" for n in range(1, 10_001)]
    for split, seed in ((0.8, 0), (0.5, 1)):
        ours = {i for i in ids if is_finetune_source(i, split, seed)}
        assert ours == {i for i in ids if independent_is_ft(i, split, seed)}
        assert abs(len(ours) - split * len(ids)) < 200, len(ours)  # 5 sigma at n = 10,000
    assert ({i for i in ids if is_finetune_source(i, 0.8, 0)} != {i for i in ids if is_finetune_source(i, 0.8, 1)})


# -- (e) a sharing dataset without val ids in its file names ---------------------------------------------------------
def test_a_sample_without_a_val_id_is_refused_naming_its_file():
    samples = [Sample("n01443537/ILSVRC2012_val_00000001.JPEG", 0), Sample("n01443537/cartoon_7.jpg", 0)]
    with pytest.raises(DataError, match=r"n01443537/cartoon_7\.jpg"):
        split_by_source(samples, 0.8, 0, "imagenet-cartoon")


def test_bench_refuses_a_renamed_tree_naming_the_file(tmp_path, run_rib, rib_registry, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tmp_path / "data"
    root = make_dataset_tree("imagenet-cartoon", data, n_classes=3, per_class=2)
    make_dataset_tree("imagenet-r", data, n_classes=3, per_class=2)
    victim = sorted(root.glob("n*/ILSVRC2012_val_*.JPEG"))[0]
    victim.rename(victim.with_name("renamed_cartoon.JPEG"))
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\ndatasets = ["imagenet-cartoon", '
                     f'"imagenet-r"]\nstrategies = ["ft"]\ndata_root = "{data}"\nallow_partial = true\n'
                     'eval_images = "held-out-sources"\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--device", "cpu")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"{victim.parent.name}/renamed_cartoon.JPEG" in result.stderr and "val id" in result.stderr
    # The other modes do not need source ids: the same tree is no problem there.
    suite.write_text(suite.read_text().replace('"held-out-sources"', '"held-out"'))
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--dry-run", "--no-calibrate")
    assert "renamed_cartoon" not in result.stdout + result.stderr


# -- (d) a typo -------------------------------------------------------------------------------------------------
def test_a_typo_in_eval_images_exits_2_with_did_you_mean(tmp_path, run_rib, rib_registry):
    suite = tmp_path / "suite.toml"
    suite.write_text('[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\ndatasets = ["imagenet-r", "imagenet-a"]\n'
                     'strategies = ["ft"]\neval_images = "held-out-source"\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--device", "cpu")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "eval_images" in result.stderr and 'Did you mean "held-out-sources"?' in result.stderr
    assert not (tmp_path / "out").exists()


# -- (c) end to end ------------------------------------------------------------------------------------------------
class Recorder(FullFineTune):
    """`ft` that writes down the positions and identities of the images it trains on and of its anchor (one JSON
    line per fine-tune, to the file $RIB_TEST_RECORD: the registry may import this module under another name)."""

    name = "recorder"

    def setup(self, ctx):
        super().setup(ctx)
        with open(os.environ["RIB_TEST_RECORD"], "a") as f:
            f.write(json.dumps({"train": [ctx.train_data.identity, ctx.train_data.positions.tolist()],
                                "anchor": [ctx.anchor_data.identity, ctx.anchor_data.positions.tolist()]}) + "\n")


class RecorderPlugin:
    @hookimpl
    def register_strategies(self, register):
        register("recorder", "tests.test_source_split:Recorder", "ft that records its data (tests)")


TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "img_size": 32}


def write_e2e_suite(tmp_path, mode: str):
    import timm
    from safetensors.torch import save_file

    weights = tmp_path / "tiny.safetensors"
    if not weights.exists():
        save_file(timm.create_model("vit_tiny_patch16_224", pretrained=False, **TINY).state_dict(), str(weights))
    data = tmp_path / "data"
    if not data.exists():
        for name in ("imagenet-val", "imagenet-c", "imagenet-cartoon", "imagenet-r"):
            make_dataset_tree(name, data, n_classes=3, per_class=4, size=32)
    path = tmp_path / "suite.toml"
    path.write_text(f"""
[suites.s]
models = [{{name = "timm:vit_tiny_patch16_224", weights = "{weights}", model_kwargs = {{embed_dim = 32, depth = 1, num_heads = 2, img_size = 32}}}}]
datasets = ["imagenet-c", "imagenet-cartoon", "imagenet-r"]
reference = "imagenet-val"
strategies = ["recorder"]
data_root = "{data}"
allow_partial = true
split = 0.5
seed = 3
eval_images = "{mode}"
eval_batch_size = 16

[suites.s.training]
epochs = 1
max_steps = 1
batch_size = 4
warmup_steps = 0
""")
    return path


def stored_eval_ids(out, samples_of) -> dict:
    """(ft_dataset, eval_dataset) -> the source ids (or paths) of the images each post-evaluation scored."""
    from safetensors.numpy import load_file

    manifest = json.loads((out / "runs" / "s.json").read_text())
    found = {}
    for cell in manifest["cells"]:
        if cell["kind"] == "eval" and cell["strategy"] is not None:
            positions = load_file(str(out / "cells" / cell["key"] / "predictions.safetensors"))
            found[(cell["ft_dataset"], cell["eval_dataset"])] = [
                samples_of[cell["eval_dataset"]][p].path for p in positions["positions"].tolist()]
    return found


def test_held_out_sources_end_to_end(tmp_path, run_rib, register_plugin, monkeypatch):
    pytest.importorskip("timm")
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    register_plugin(RecorderPlugin(), "recorder-plugin")
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("RIB_TEST_RECORD", str(record))
    suite = write_e2e_suite(tmp_path, "held-out-sources")
    out = tmp_path / "out"
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--no-report")
    assert result.exit_code == 0, result.stderr[-3000:]

    from rib_core.config import load_suite
    from rib_core.engine.prepare import prepare
    from rib_core.plugins import get_registry

    prepared = prepare(load_suite(suite, "s"), get_registry())
    samples_of = {d.label: d.samples for d in prepared.datasets + [prepared.reference]}
    ids = {label: [source_id(s.path) for s in samples] for label, samples in samples_of.items()}
    evaluated = stored_eval_ids(out, samples_of)
    seen = [json.loads(line) for line in record.read_text().splitlines()]
    trained = {}
    for identity, positions in (line["train"] for line in seen):
        label = next(d.label for d in prepared.datasets if identity.startswith(d.fingerprint))
        trained[label] = [samples_of[label][p].path for p in positions]
    assert set(trained) == {"imagenet-c", "imagenet-cartoon", "imagenet-r"}
    sharing = {"imagenet-c", "imagenet-cartoon", "imagenet-val"}

    def val_ids(paths):
        return {expected_ids_any(p) for p in paths}

    for (ft_on, ev_on), paths in evaluated.items():
        assert paths, (ft_on, ev_on)
        if ev_on in sharing:
            # Only held-out sources, computed independently; none that any sharing fine-tune trained on.
            assert not any(independent_is_ft(i, 0.5, 3) for i in val_ids(paths)), (ft_on, ev_on)
            for other in sharing - {"imagenet-val"}:
                assert not val_ids(paths) & val_ids(trained[other]), (other, ev_on)
        elif ev_on != ft_on:  # a dataset of its own images, after another's fine-tune: every image
            assert sorted(paths) == sorted(s.path for s in samples_of[ev_on])
    for label in ("imagenet-c", "imagenet-cartoon"):
        assert val_ids(trained[label]) and all(independent_is_ft(i, 0.5, 3) for i in val_ids(trained[label]))
        held = val_ids(evaluated[(label, label)])
        assert held and held == {i for i in ids[label] if not independent_is_ft(i, 0.5, 3)}

    # EWC's anchor: the reference's fine-tuning sources, disjoint from its evaluated images.
    ref = prepared.reference
    anchors = {(identity, tuple(p)) for identity, p in (line["anchor"] for line in seen)}
    assert len(anchors) == 1
    identity, anchor_positions = anchors.pop()
    assert identity != ref.fingerprint and identity.startswith(ref.fingerprint)
    anchor_paths = [ref.samples[p].path for p in anchor_positions]
    ref_evaluated = {p for (_, ev_on), paths in evaluated.items() if ev_on == "imagenet-val" for p in paths}
    assert anchor_paths and ref_evaluated and not set(anchor_paths) & ref_evaluated
    assert not val_ids(anchor_paths) & val_ids(ref_evaluated)
    assert set(anchor_paths) | ref_evaluated == {s.path for s in ref.samples}


def expected_ids_any(path: str) -> str:
    return VAL_NAME.match(path.rsplit("/", 1)[-1]).group(1)


def test_switching_modes_changes_exactly_the_keys_of_cells_whose_images_change(tmp_path, rib_registry,
                                                                                register_plugin):
    pytest.importorskip("timm")
    from rib_core.config import load_suite
    from rib_core.engine.plan import build_plan
    from rib_core.engine.prepare import prepare

    register_plugin(RecorderPlugin(), "recorder-plugin")
    plans = {}
    for mode in ("all", "held-out", "held-out-sources"):
        prepared = prepare(load_suite(write_e2e_suite(tmp_path, mode), "s"), rib_registry)
        plans[mode] = {(c.kind, c.strategy, c.ft_dataset, c.eval_dataset): c for c in build_plan(prepared)}
    a, h, s = plans["all"], plans["held-out"], plans["held-out-sources"]
    assert a.keys() == h.keys() == s.keys()
    for what, cell in s.items():
        kind, strategy, ft_on, ev_on = what
        if strategy is None:  # pre-evaluations: every image in every mode
            assert cell.key == a[what].key == h[what].key and cell.subset == "all"
        elif kind == "finetune":  # images change for sharing datasets; the anchor changes for every fine-tune
            assert cell.key != a[what].key and cell.key != h[what].key
            assert a[what].key == h[what].key
        elif ev_on == "imagenet-r" and ft_on != "imagenet-r":
            assert cell.subset == a[what].subset == "all"
        else:
            assert cell.subset.endswith("-sources") == (ev_on != "imagenet-r"), what
            assert cell.key not in {a[what].key, h[what].key}
