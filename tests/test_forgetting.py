"""Forgetting is positive when the model forgets: `ref-forgetting` = before - after on the reference set; the old
`forgetting` (after - before) stays as a deprecated alias with its old sign, saying so on every row."""

from __future__ import annotations

import numpy as np
import pytest

from rib_core.engine.results import Evaluation, Results
from rib_core.report.build import build_report


def evaluation(strategy, ft, dataset, correct):
    n = len(correct)
    labels = np.zeros(n, np.int64)
    top1 = np.where(np.asarray(correct, bool), 0, 1)
    pred = {"positions": np.arange(n, dtype=np.int64), "labels": labels, "top_idx": top1[:, None].astype(np.int32),
            "group_index": np.zeros(n, np.int64)}
    return Evaluation("m", strategy, ft, dataset, "all", 100.0 * np.mean(correct), n, {"groups": []}, None,
                      f"{strategy}/{ft}/{dataset}", _pred=pred)


@pytest.fixture
def results():
    # The reference: 8 of 10 right before; after fine-tuning on a, 5 of 10 (forgot 30 points); on b, 9 (gained 10).
    r = Results(datasets=["a", "b"], reference="ref", models=["m"], strategies=["ft"])
    r.evaluations = [
        evaluation(None, None, "ref", [1] * 8 + [0] * 2),
        evaluation(None, None, "a", [1, 0, 1, 0]),
        evaluation(None, None, "b", [1, 1, 0, 0]),
        evaluation("ft", "a", "ref", [1] * 5 + [0] * 5),
        evaluation("ft", "b", "ref", [1] * 9 + [0] * 1),
        evaluation("ft", "a", "b", [1, 0, 0, 0]),
        evaluation("ft", "b", "a", [1, 1, 1, 0]),
        evaluation("ft", "a", "a", [1, 1, 1, 1]),
        evaluation("ft", "b", "b", [1, 1, 1, 0]),
    ]
    return r


def rows(report, metric):
    return {r["ft_dataset"]: r for r in report["metrics"] if r["metric"] == metric}


def test_ref_forgetting_is_before_minus_after(results, rib_registry):
    report = build_report(results, rib_registry)
    forgetting = rows(report, "ref-forgetting")
    assert forgetting["a"]["value"] == pytest.approx(30.0) and forgetting["b"]["value"] == pytest.approx(-10.0)
    assert (forgetting["a"]["before"], forgetting["a"]["after"]) == pytest.approx((80.0, 50.0))
    assert forgetting["a"]["eval_dataset"] == "ref" and "deprecated" not in forgetting["a"]


def test_the_old_name_keeps_its_sign_and_says_it_is_deprecated(results, rib_registry):
    report = build_report(results, rib_registry)
    old, new = rows(report, "forgetting"), rows(report, "ref-forgetting")
    for i in ("a", "b"):
        assert old[i]["value"] == pytest.approx(-new[i]["value"])
        assert "deprecated" in old[i]["deprecated"] and "ref-forgetting" in old[i]["deprecated"]
    gain = rows(report, "id-gain")  # the other paired delta keeps after - before
    assert gain["a"]["value"] == pytest.approx(50.0) and gain["b"]["value"] == pytest.approx(25.0)


def test_a_suite_may_ask_for_the_new_name_alone(results, rib_registry):
    report = build_report(results, rib_registry, ["ref-forgetting"])
    assert {r["metric"] for r in report["metrics"]} == {"ref-forgetting"}
