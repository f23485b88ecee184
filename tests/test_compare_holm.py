"""`--compare` corrects its per-dataset rows for multiple comparisons (Holm-Bonferroni) and says so; mRI is the
primary claim, uncorrected, and labelled so. Checked on in-memory results built so that one RI_i row's interval
excludes 0 while its Holm-adjusted p-value does not pass."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console

from rib_core.engine.results import Evaluation, Results
from rib_core.errors import UsageError
from rib_core.report.compare import compare, holm, render

N = 200  # images per dataset


def evaluation(strategy, ft, dataset, correct):
    n = len(correct)
    pred = {"positions": np.arange(n, dtype=np.int64), "labels": np.zeros(n, np.int64),
            "top_idx": np.where(np.asarray(correct, bool), 0, 1).astype(np.int32)[:, None],
            "group_index": np.zeros(n, np.int64)}
    return Evaluation("m", strategy, ft, dataset, "all", 100 * np.mean(correct), n, {"groups": []}, None,
                      f"{strategy}/{ft}/{dataset}", _pred=pred)


def paired_results(changes: dict) -> Results:
    """A fine-tuned on D_i fixes `fix` and breaks `brk` of the pretrained model's answers on every D_j; B keeps
    them all: RI_i(A) - RI_i(B) = (fix - brk) / N * 100 points exactly."""
    datasets = list(changes)
    results = Results(datasets=datasets, reference=None, models=["m"], strategies=["A", "B"])
    pre = (np.arange(N) % 2).astype(int)
    results.evaluations = [evaluation(None, None, j, pre) for j in datasets]
    for i, (fix, brk) in changes.items():
        for j in datasets:
            post = pre.copy()
            post[np.flatnonzero(pre == 0)[:fix]] = 1
            post[np.flatnonzero(pre == 1)[:brk]] = 0
            results.evaluations += [evaluation("A", i, j, post), evaluation("B", i, j, pre)]
    return results


CHANGES = {"a": (40, 0), "b": (15, 9), "c": (5, 5), "d": (6, 6)}


def test_holm_adjusts_by_rank_and_keeps_the_order():
    # Sorted 0.01, 0.02, 0.03, 0.04 -> 4*0.01, 3*0.02, 2*0.03, 1*0.04, made monotone.
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([0.2, 0.01]) == pytest.approx([0.2, 0.02]) and holm([]) == []


def test_a_row_significant_uncorrected_but_not_after_holm_gets_no_verdict():
    rows = {r["ft_dataset"]: r for r in compare(paired_results(CHANGES), "A", "B")}
    assert set(rows) == {"a", "b", "c", "d", None}
    for i, (fix, brk) in CHANGES.items():
        assert rows[i]["difference"] == pytest.approx(100 * (fix - brk) / N)
        assert rows[i]["correction"] == "holm" and rows[i]["family_size"] == 4 and rows[i]["alpha"] == 0.05
    p = {i: rows[i]["p_value"] for i in CHANGES}
    assert [rows[i]["p_holm"] for i in CHANGES] == pytest.approx(holm(list(p.values())))
    b = rows["b"]
    assert b["ci"][0] > 0 and p["b"] < 0.05  # significant on its own ...
    assert b["p_holm"] > 0.05 and b["verdict"] is None  # ... but not among four tests
    assert rows["a"]["verdict"] is not None and "Holm-adjusted p" in rows["a"]["verdict"]
    assert rows["c"]["verdict"] is None and rows["d"]["verdict"] is None
    mri = rows[None]
    assert mri["correction"] == "none" and mri["role"] == "primary" and mri["p_holm"] is None
    assert mri["verdict"] is not None and "primary claim, uncorrected" in mri["verdict"]


def test_the_interval_and_the_p_value_agree():
    """p is dual to the interval: the 1 - p interval of each row has an end at 0 (up to the replicates' grid)."""
    from rib_core.metrics.replicates import seed_interval, seed_table

    results = paired_results(CHANGES)
    rows = {r["ft_dataset"]: r for r in compare(results, "A", "B")}
    stats = {s.strategy: s for s in seed_table(results)}
    boot = stats["A"].ri_boot["b"] - stats["B"].ri_boot["b"]
    low, high = seed_interval([rows["b"]["difference"]], boot, 1 - rows["b"]["p_value"])
    assert min(abs(low), abs(high)) < 0.05


def test_alpha_sets_the_level_and_is_checked():
    loose = {r["ft_dataset"]: r for r in compare(paired_results(CHANGES), "A", "B", alpha=0.4)}
    assert loose["b"]["verdict"] is not None  # Holm p ~ 0.08 passes at 0.4
    strict = {r["ft_dataset"]: r for r in compare(paired_results(CHANGES), "A", "B")}
    width = lambda r: r["ci"][1] - r["ci"][0]  # noqa: E731
    assert width(loose[None]) < width(strict[None])  # a 60 % interval is narrower than a 95 % one
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(UsageError, match="between 0 and 1"):
            compare(paired_results(CHANGES), "A", "B", alpha=bad)


def test_the_table_names_the_correction_and_the_primary_claim():
    out = io.StringIO()
    render(compare(paired_results(CHANGES), "A", "B"), Console(file=out, width=200))
    text = out.getvalue()
    assert "Holm-Bonferroni" in text and "Holm p" in text and "mRI (primary)" in text
    assert "mRI is the primary claim" in text and "not corrected" in text
    verdicts = [line for line in text.splitlines() if "keeps more robustness" in line]
    assert len(verdicts) == 2  # RI_a and mRI; not RI_b
