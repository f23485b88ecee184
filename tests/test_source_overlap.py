"""Contamination measured at planning time: the share of each evaluated set that renders the fine-tuning sources.

On the real layouts' file names (rib_core.data.fixtures), prepared as `rib bench` prepares them, and checked
against sets of val ids read here from the file names with a regular expression of this file's own.
"""

from __future__ import annotations

import json
import re

import pytest

from rib_core.data.fixtures import make_dataset_tree
from rib_core.data.source_overlap import anchor_footnote, column_footnotes, footnote, source_overlap

SHARING = ("imagenet-c", "imagenet-cartoon", "imagenet-drawing")
VAL_NAME = re.compile(r"(ILSVRC2012_val_\d{8})\.JPEG$")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name in (*SHARING, "imagenet-val", "imagenet-r"):
        make_dataset_tree(name, root, n_classes=3, per_class=5, size=16)
    (root / "weights.safetensors").write_bytes(b"not read: prepare only hashes the file")
    return root


def prepared_for(root, mode: str, rib_registry):
    from rib_core.config import load_suite
    from rib_core.engine.prepare import prepare

    suite = root / f"suite-{mode}.toml"
    suite.write_text(f"""
[suites.s]
models = [{{ name = "timm:vit_tiny_patch16_224", weights = "{root / 'weights.safetensors'}" }}]
datasets = ["imagenet-c", "imagenet-cartoon", "imagenet-drawing", "imagenet-r"]
reference = "imagenet-val"
strategies = ["ft"]
data_root = "{root}"
allow_partial = true
split = 0.5
seed = 1
eval_images = "{mode}"
""")
    return prepare(load_suite(suite, "s"), rib_registry)


def val_ids(ds, subset: str) -> list[str]:
    return [VAL_NAME.search(ds.samples[p].path).group(1) for p in ds.positions(subset)]


def expected_fraction(ds_i, ds_j) -> float:
    """Independently: the evaluated images of D_j whose file name names a val image D_i fine-tunes on."""
    trained = set(val_ids(ds_i, ds_i.ft_subset))
    evaluated = val_ids(ds_j, ds_j.own_subset if ds_j is ds_i else ds_j.eval_subset)
    return sum(i in trained for i in evaluated) / len(evaluated)


def test_under_all_every_sharing_pair_is_measured_and_flagged(data_root, rib_registry):
    prepared = prepared_for(data_root, "all", rib_registry)
    overlap = source_overlap(prepared)
    json.dumps(overlap)  # plain data
    assert overlap["eval_images"] == "all"
    assert set(overlap["source_images"]) == {*SHARING, "imagenet-val"}
    pairs = {(p["ft_dataset"], p["eval_dataset"]): p for p in overlap["pairs"]}
    # Every sharing fine-tuning set against every sharing evaluated set (its own held-out part and the reference
    # included); ImageNet-R renders no val image and appears nowhere.
    assert set(pairs) == {(i, j) for i in SHARING for j in (*SHARING, "imagenet-val")}
    for (i, j), pair in pairs.items():
        ds_i, ds_j = prepared.dataset(i), prepared.dataset(j)
        assert pair["fraction"] == pytest.approx(expected_fraction(ds_i, ds_j), abs=1e-12), (i, j)
        assert pair["evaluated"] == len(ds_j.positions(pair["subset"])) and pair["unknown"] == 0
        if i == j:  # a dataset's own split keeps the renditions of one source together (rib_core/data/splits.py)
            assert pair["fraction"] == 0.0 and footnote(pair) is None
            continue
        assert 0 < pair["fraction"] <= 1, (i, j)  # "all": every other sharing set shares sources
        note = footnote(pair)
        assert "shares source images with the fine-tuning set" in note and "held-out-sources" in note
        assert f"{100 * pair['fraction']:.0f} %" in note
    notes = column_footnotes(overlap)
    assert set(notes) == {*SHARING, "imagenet-val"}
    cartoon = [pairs[(i, "imagenet-cartoon")]["fraction"] for i in ("imagenet-c", "imagenet-drawing")]
    low, high = f"{100 * min(cartoon):.0f}", f"{100 * max(cartoon):.0f}"
    assert (f"{low} %" if low == high else f"{low}–{high} %") in notes["imagenet-cartoon"]
    assert "imagenet-c, imagenet-drawing" in notes["imagenet-cartoon"]
    # EWC's anchor is every reference image, and so is what the reference column evaluates.
    anchor = overlap["anchor"]
    assert anchor["fraction"] == 1.0 and anchor["evaluated"] == anchor["anchor_images"] == 15
    assert "100 % of the 15 evaluated imagenet-val images" in anchor_footnote(overlap)


def test_under_held_out_sources_nothing_is_shared_and_nothing_is_flagged(data_root, rib_registry):
    prepared = prepared_for(data_root, "held-out-sources", rib_registry)
    overlap = source_overlap(prepared)
    assert overlap["pairs"] and overlap["anchor"]["evaluated"] > 0
    for pair in overlap["pairs"]:
        assert pair["evaluated"] > 0 and pair["shared"] == 0 and pair["fraction"] == 0.0, pair
        assert footnote(pair) is None
        ds_i, ds_j = prepared.dataset(pair["ft_dataset"]), prepared.dataset(pair["eval_dataset"])
        assert expected_fraction(ds_i, ds_j) == 0.0
    assert column_footnotes(overlap) == {}
    assert overlap["anchor"]["shared"] == 0 and anchor_footnote(overlap) is None


def test_held_out_still_shares_sources(data_root, rib_registry):
    """"held-out" evaluates D_j's held-out part, split by class and not by source: still contaminated."""
    overlap = source_overlap(prepared_for(data_root, "held-out", rib_registry))
    others = [p for p in overlap["pairs"] if p["ft_dataset"] != p["eval_dataset"]]
    assert any(p["shared"] for p in others) and column_footnotes(overlap)
    assert overlap["anchor"]["fraction"] == 1.0  # the anchor is all of the reference, which is evaluated whole


def test_a_file_without_a_val_id_counts_as_unknown_not_as_shared(data_root, rib_registry):
    prepared = prepared_for(data_root, "all", rib_registry)
    from dataclasses import replace

    cartoon = prepared.dataset("imagenet-cartoon")
    renamed = cartoon.samples[0].__class__("n00000000/cartoon.jpg", 0)
    index = prepared.datasets.index(cartoon)  # a prepared dataset is frozen: put a changed copy in its place
    prepared.datasets[index] = replace(cartoon, samples=(renamed,) + cartoon.samples[1:])
    pair = next(p for p in source_overlap(prepared)["pairs"]
                if (p["ft_dataset"], p["eval_dataset"]) == ("imagenet-c", "imagenet-cartoon"))
    assert pair["unknown"] == 1 and pair["shared"] <= pair["evaluated"] - 1
