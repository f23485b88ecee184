"""Datasets that render the same source images are resampled jointly: one weight per source id, shared by every
dataset of the family, in every replicate. Checked against a bootstrap written out here from the same weights,
and against the independent resampling it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from rib_core.engine.results import Evaluation, Results
from rib_core.metrics.bootstrap import family_seed, source_weights
from rib_core.metrics.replicates import seed_table
from rib_core.metrics.robustness import compute

FAMILY = "imagenet-1k-val"


def weights(ids, replicates, seed=0):
    return np.concatenate(list(source_weights(FAMILY, ids, replicates, family_seed(seed, FAMILY))))


def test_a_source_weighs_the_same_in_every_set_that_holds_it():
    a, b = weights([5, 9, 12], 300), weights([12, 1, 5, 7], 300)
    assert np.array_equal(a[:, 0], b[:, 2]) and np.array_equal(a[:, 2], b[:, 0])
    assert not np.array_equal(a[:, 0], a[:, 1])  # distinct sources, distinct draws
    assert not np.array_equal(weights([5], 300), np.concatenate(list(source_weights("other", [5], 300))))


def test_the_weights_are_poisson_1_and_independent():
    w = weights(np.arange(1, 2001), 100)  # 200,000 draws
    n = w.size
    assert abs(w.mean() - 1) < 5 / np.sqrt(n) and abs(w.var() - 1) < 5 * np.sqrt(2 / n) * 1.5
    for k, p in enumerate([np.exp(-1), np.exp(-1), np.exp(-1) / 2, np.exp(-1) / 6]):
        assert abs((w == k).mean() - p) < 5 * np.sqrt(p * (1 - p) / n), k
    assert abs(np.corrcoef(w[:, :-1].ravel(), w[:, 1:].ravel())[0, 1]) < 5 / np.sqrt(n)  # neighbouring ids
    assert abs(np.corrcoef(w[:-1].ravel(), w[1:].ravel())[0, 1]) < 5 / np.sqrt(n)  # neighbouring replicates


def evaluation(strategy, ft, dataset, correct, sources=None):
    n = len(correct)
    pred = {"positions": np.arange(n, dtype=np.int64), "labels": np.zeros(n, np.int64),
            "top_idx": np.where(np.asarray(correct, bool), 0, 1).astype(np.int32)[:, None],
            "group_index": np.zeros(n, np.int64)}
    record = {"groups": []}
    if sources is not None:
        pred["source_index"] = np.asarray(sources, np.int64)
        record["source_images"] = FAMILY
    return Evaluation("m", strategy, ft, dataset, "all", 100 * np.mean(correct), n, record, None,
                      f"{strategy}/{ft}/{dataset}", _pred=pred)


def sharing_results(joint: bool, seed=4) -> tuple[Results, dict]:
    """D_a of its own images (fine-tuned on); 'cartoon' renders sources 1..60 once, 'corrupt' three times each.
    The change after fine-tuning on a is one value per source, the same in both: perfectly correlated sets."""
    rng = np.random.default_rng(seed)
    change = rng.choice([-1, 0, 1], 60, p=[0.35, 0.3, 0.35])
    sets = {"cartoon": np.arange(1, 61), "corrupt": np.repeat(np.arange(1, 61), 3)}
    results = Results(datasets=["a", *sets], reference=None, models=["m"], strategies=["ft"])
    for name, sources in sets.items():
        c = change[sources - 1]
        pre = np.where(c > 0, 0, 1)  # a gain: wrong before; a loss or no change: right before
        post = np.where(c < 0, 0, 1)
        results.evaluations += [evaluation(None, None, name, pre, sources if joint else None),
                                evaluation("ft", "a", name, post, sources if joint else None)]
    results.evaluations += [evaluation(None, None, "a", [1, 0, 1]), evaluation("ft", "cartoon", "a", [1, 0, 1]),
                            evaluation("ft", "corrupt", "a", [1, 0, 1]),
                            evaluation("ft", "cartoon", "corrupt", np.ones(180)),
                            evaluation("ft", "corrupt", "cartoon", np.ones(60))]
    return results, {"change": change, "sets": sets}


def test_ri_of_sharing_sets_equals_a_bootstrap_written_out_with_the_same_weights():
    results, truth = sharing_results(joint=True)
    got = compute(results, "m", "ft", replicates=500)
    w = weights(np.arange(1, 61), 500)  # columns: sources 1..60
    reps = np.zeros(500)
    for name, sources in truth["sets"].items():
        d = 100.0 * truth["change"][sources - 1]
        per_image = w[:, sources - 1]
        reps += 0.5 * (per_image * d).sum(axis=1) / per_image.sum(axis=1)
    assert got.ri["a"] == pytest.approx(100 * truth["change"].mean())
    assert got.ri_ci["a"] == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])), abs=1e-9)


def test_the_joint_interval_sees_the_correlation_the_independent_one_ignores():
    joint = compute(sharing_results(joint=True)[0], "m", "ft", replicates=1000)
    alone = compute(sharing_results(joint=False)[0], "m", "ft", replicates=1000)
    width = lambda r: r.ri_ci["a"][1] - r.ri_ci["a"][0]  # noqa: E731
    assert joint.ri["a"] == pytest.approx(alone.ri["a"])
    # Two copies of the same information: resampled independently they look like twice the data (sqrt 2).
    assert width(joint) > 1.25 * width(alone)


def test_the_seed_path_resamples_the_same_way():
    """--compare and several seeds go through bootstrap_means, the single-seed table through compute_all: with
    one seed both give the same RI intervals."""
    results, _ = sharing_results(joint=True)
    table = compute(results, "m", "ft")
    (stats,) = seed_table(results)
    assert stats.ri_ci["a"] == pytest.approx(list(table.ri_ci["a"]), abs=1e-9)


def test_evaluations_store_each_images_source(tmp_path, run_rib, monkeypatch):
    """What the joint bootstrap reads: every evaluation of a sharing dataset records its family and the val id of
    each image it scored; a dataset of its own images records neither."""
    import json
    import re

    import timm
    from safetensors.numpy import load_file
    from safetensors.torch import save_file

    from rib_core.data.fixtures import make_dataset_tree

    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "tiny.safetensors"
    save_file(timm.create_model("vit_tiny_patch16_224", pretrained=False, embed_dim=32, depth=1, num_heads=2,
                                img_size=32).state_dict(), str(weights))
    for name in ("imagenet-c", "imagenet-cartoon", "imagenet-r"):
        make_dataset_tree(name, tmp_path / "data", n_classes=2, per_class=3, size=32)
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suites.s]
models = [{{name = "timm:vit_tiny_patch16_224", weights = "{weights}", model_kwargs = {{embed_dim = 32, depth = 1, num_heads = 2, img_size = 32}}}}]
datasets = ["imagenet-c", "imagenet-cartoon", "imagenet-r"]
strategies = ["ft"]
data_root = "{tmp_path / 'data'}"
allow_partial = true
eval_batch_size = 16

[suites.s.training]
epochs = 1
max_steps = 1
batch_size = 4
warmup_steps = 0
""")
    out = tmp_path / "out"
    assert run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--no-report").exit_code == 0
    from rib_core.config import load_suite
    from rib_core.engine.prepare import prepare
    from rib_core.plugins import get_registry

    prepared = prepare(load_suite(suite, "s"), get_registry())
    manifest = json.loads((out / "runs" / "s.json").read_text())
    seen = set()
    for cell in (c for c in manifest["cells"] if c["kind"] == "eval"):
        record = json.loads((out / "cells" / cell["key"] / "record.json").read_text())
        p = load_file(str(out / "cells" / cell["key"] / "predictions.safetensors"))
        samples = prepared.dataset(cell["eval_dataset"]).samples
        if cell["eval_dataset"] == "imagenet-r":
            assert record["source_images"] is None and "source_index" not in p
            continue
        assert record["source_images"] == FAMILY
        want = [int(re.search(r"ILSVRC2012_val_(\d{8})", samples[k].path).group(1)) for k in p["positions"]]
        assert p["source_index"].tolist() == want
        seen.add(cell["eval_dataset"])
    assert seen == {"imagenet-c", "imagenet-cartoon"}
