"""Property tests for RI and mRI (rib_core.metrics.robustness.compute) against an independent computation.

Results are fabricated: per-sample predictions for random accuracy tables (random image counts, class labels,
ImageNet-C-like "corruption/severity" groups, and evaluation on all images or on a held-out subset), handed to
`compute` exactly as stored evaluations would be. One test runs the real engine with the `freeze` strategy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rib_core.engine.results import Evaluation, Results
from rib_core.metrics.robustness import compute
from rib_core.testing import toy

MODEL, STRATEGY = "m", "s"
N_LABELS = 3
REPLICATES = 20  # the bootstrap is not what these tests check; keep them fast


# -- random accuracy tables ------------------------------------------------------------------------------------
@st.composite
def tables(draw):
    """{dataset: {"groups": [str], "pre": [bool], "subset": [int], "post": {i: [bool]}, "labels": [int]}}."""
    names = [f"d{k}" for k in range(draw(st.integers(2, 4)))]
    table = {}
    for j in names:
        n = draw(st.integers(1, 10))
        depth = draw(st.sampled_from([0, 1, 2]))  # no groups; "c"; "c/s" as ImageNet-C
        group_names = {0: [""], 1: ["fog", "snow"], 2: ["fog/1", "fog/3", "snow/1"]}[depth]
        groups = draw(st.lists(st.sampled_from(group_names), min_size=n, max_size=n))
        all_images = draw(st.booleans())
        subset = list(range(n)) if all_images else sorted(draw(
            st.sets(st.integers(0, n - 1), min_size=1, max_size=n)))
        bools = lambda size: st.lists(st.booleans(), min_size=size, max_size=size)  # noqa: E731
        table[j] = {
            "groups": groups,
            "labels": draw(st.lists(st.integers(0, N_LABELS - 1), min_size=n, max_size=n)),
            "pre": draw(bools(n)),
            "subset": subset,
            "post": {i: draw(bools(len(subset))) for i in names if i != j},
        }
    return table


def evaluation(strategy, ft_dataset, eval_dataset, positions, labels, correct, groups) -> Evaluation:
    """An Evaluation whose stored predictions are top-1 = label where `correct`, another class elsewhere."""
    labels = np.asarray(labels, dtype=np.int64)
    top1 = np.where(correct, labels, (labels + 1) % N_LABELS)
    group_names = sorted(set(groups))
    predictions = {
        "positions": np.asarray(positions, dtype=np.int64), "labels": labels,
        "top_idx": top1[:, None].astype(np.int32), "top_prob": np.ones((len(labels), 1), dtype=np.float32),
        "group_index": np.array([group_names.index(g) for g in groups], dtype=np.int64),
    }
    record = {"groups": group_names if group_names != [""] else []}
    return Evaluation(MODEL, strategy, ft_dataset, eval_dataset, "all", float("nan"), len(labels), record,
                      store=None, key="", _pred=predictions)


def results_of(table, names=None) -> Results:
    """Results holding `table`; `names` renames dataset k of the table to names[k] (default: keep names)."""
    originals = list(table)
    rename = dict(zip(originals, names or originals))
    results = Results(datasets=[rename[j] for j in originals], reference=None, models=[MODEL], strategies=[STRATEGY])
    for j, t in table.items():
        n = len(t["labels"])
        results.evaluations.append(evaluation(None, None, rename[j], range(n), t["labels"], t["pre"], t["groups"]))
        sub = t["subset"]
        for i, correct in t["post"].items():
            results.evaluations.append(evaluation(
                STRATEGY, rename[i], rename[j], sub, [t["labels"][p] for p in sub], correct,
                [t["groups"][p] for p in sub]))
    return results


# -- the independent computation -------------------------------------------------------------------------------
def nested_mean(correct: list[bool], groups: list[str]) -> float:
    """Mean over the first level of groups of the nested mean below it; a plain mean without groups."""
    if all(g == "" for g in groups):
        return float(np.mean(correct))
    buckets: dict[str, tuple[list, list]] = {}
    for c, g in zip(correct, groups):
        head, _, rest = g.partition("/")
        buckets.setdefault(head, ([], []))[0].append(c)
        buckets[head][1].append(rest)
    return float(np.mean([nested_mean(c, g) for c, g in buckets.values()]))


def expected_ri(table) -> tuple[dict, float]:
    names = list(table)
    ri = {}
    for i in names:
        diffs = []
        for j in names:
            if j == i:
                continue
            t = table[j]
            groups = [t["groups"][p] for p in t["subset"]]
            pre = [t["pre"][p] for p in t["subset"]]
            diffs.append(100 * (nested_mean(t["post"][i], groups) - nested_mean(pre, groups)))
        ri[i] = sum(diffs) / len(diffs)
    return ri, sum(ri.values()) / len(ri)


# -- properties ---------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(tables())
def test_ri_and_mri_equal_an_independent_computation(table):
    got = compute(results_of(table), MODEL, STRATEGY, replicates=REPLICATES)
    ri, mri = expected_ri(table)
    assert got.datasets == list(table)
    assert got.ri == pytest.approx(ri, abs=1e-9)
    assert got.mri == pytest.approx(mri, abs=1e-9)
    for i in got.datasets:
        low, high = got.ri_ci[i]
        assert np.isfinite(low) and low <= high


@settings(max_examples=40, deadline=None)
@given(tables(), st.randoms(use_true_random=False))
def test_permuting_the_datasets_permutes_ri(table, random):
    names = list(table)
    permuted = names[:]
    random.shuffle(permuted)
    renamed = [f"x{k}" for k in range(len(names))]
    # Dataset names[k] is now called renamed[permuted.index(names[k])]: a relabelling and a reordering at once.
    new_name = {j: renamed[permuted.index(j)] for j in names}
    shuffled = {j: table[j] for j in permuted}
    before = compute(results_of(table), MODEL, STRATEGY, replicates=REPLICATES)
    after = compute(results_of(shuffled, [new_name[j] for j in permuted]), MODEL, STRATEGY, replicates=REPLICATES)
    for j in names:
        assert after.ri[new_name[j]] == pytest.approx(before.ri[j], abs=1e-9)
        for i in names:
            if i != j:
                assert after.diff[(new_name[i], new_name[j])] == before.diff[(i, j)]
    assert after.mri == pytest.approx(before.mri, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(tables())
def test_unchanged_predictions_give_ri_exactly_zero(table):
    for t in table.values():
        for i in t["post"]:
            t["post"][i] = [t["pre"][p] for p in t["subset"]]  # what `freeze` produces
    got = compute(results_of(table), MODEL, STRATEGY, replicates=REPLICATES)
    assert all(v == 0.0 for v in got.ri.values()) and got.mri == 0.0
    assert all(ci == (0.0, 0.0) for ci in got.ri_ci.values()) and got.mri_ci == (0.0, 0.0)


def test_a_missing_evaluation_leaves_that_row_out_and_mri_undefined():
    table = {"d0": {"groups": [""] * 2, "labels": [0, 1], "pre": [True, False], "subset": [0, 1],
                    "post": {"d1": [True, True], "d2": [False, False]}},
             "d1": {"groups": [""] * 2, "labels": [0, 1], "pre": [True, True], "subset": [0, 1],
                    "post": {"d0": [True, False], "d2": [True, True]}},
             "d2": {"groups": [""] * 2, "labels": [0, 1], "pre": [False, False], "subset": [0, 1],
                    "post": {"d0": [True, True], "d1": [True, False]}}}
    results = results_of(table)
    results.evaluations = [e for e in results.evaluations if not (e.ft_dataset == "d0" and e.eval_dataset == "d2")]
    got = compute(results, MODEL, STRATEGY, replicates=REPLICATES)
    assert got.datasets == ["d1", "d2"] and got.mri is None and got.mri_ci is None
    # By hand, A_i^(j) - A_pre^(j) in points: RI_d1 = mean(on d0: 100 - 50, on d2: 50 - 0) = 50;
    # RI_d2 = mean(on d0: 0 - 50, on d1: 100 - 100) = -25.
    assert got.ri == {"d1": 50.0, "d2": -25.0}


# -- the real engine ----------------------------------------------------------------------------------------------
def test_freeze_through_the_engine_gives_ri_exactly_zero(tmp_path, monkeypatch, register_plugin, bench, run_rib):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b", "toy-c"), per_class=5)
    suite = tmp_path / "suite.toml"
    suite.write_text('[suites.toy]\nmodels = ["tiny/b"]\ndatasets = ["toy-a", "toy-b", "toy-c"]\n'
                     'strategies = ["freeze"]\neval_batch_size = 7\n')
    result = bench(suite)
    assert result.exit_code == 0, result.stderr
    out = result.out
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert len(report["ri"]) == 3 and len(report["mri"]) == 1
    assert all(row["ri"] == 0.0 and row["ri_ci"] == [0.0, 0.0] for row in report["ri"])
    assert report["mri"][0]["mri"] == 0.0 and report["mri"][0]["mri_ci"] == [0.0, 0.0]
    # Not trivially zero: the pretrained model is neither always right nor always wrong on these images.
    pre = [a["accuracy"] for a in report["accuracies"] if a["strategy"] is None]
    assert any(0 < a < 100 for a in pre), pre
