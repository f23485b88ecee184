"""Report identity: suites sharing labels in one directory never mix, and evaluations pair by content key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rib_core.engine.results import load_results
from rib_core.engine.store import Store
from rib_core.engine.synthetic import write_eval_cell

DATASETS = ["d0", "d1"]


def write_suite(store: Store, suite: str, n: int, pre_right: int, post_right: int) -> None:
    """One model, one strategy: pre gets the first `pre_right` of n images right, every post `post_right`.

    Keys carry the suite's name (as a changed image cap changes a real key); labels are the same in every suite.
    """
    cells = []
    for j in DATASETS:
        pre_key = f"{suite}-pre-{j}"
        top1 = np.where(np.arange(n) < pre_right, 0, 1)
        write_eval_cell(store, pre_key, np.arange(n), np.zeros(n), top1)
        cells.append({"kind": "eval", "key": pre_key, "model": "m", "strategy": None, "ft_dataset": None,
                      "eval_dataset": j, "subset": "all"})
        for i in DATASETS:
            if i == j:
                continue
            key = f"{suite}-post-{i}-{j}"
            write_eval_cell(store, key, np.arange(n), np.zeros(n), np.where(np.arange(n) < post_right, 0, 1))
            cells.append({"kind": "eval", "key": key, "model": "m", "strategy": "s", "ft_dataset": i,
                          "eval_dataset": j, "subset": "all", "pre_key": pre_key})
    store.write_run(suite, {"suite": suite, "datasets": DATASETS, "reference": None, "models": ["m"],
                            "strategies": ["s"], "cells": cells})


@pytest.fixture
def two_suites(tmp_path):
    store = Store(tmp_path / "out")
    write_suite(store, "paper-quick", n=10, pre_right=10, post_right=5)  # capped: RI = 50 - 100 = -50
    write_suite(store, "paper", n=40, pre_right=10, post_right=20)  # full: RI = 50 - 25 = +25
    return store.root


@pytest.mark.parametrize("suite, ri", [("paper-quick", -50.0), ("paper", 25.0)])
def test_each_suite_pairs_only_its_own_cells(two_suites, run_rib, suite, ri):
    report = json.loads(run_rib("report", str(two_suites), "--suite", suite, "--format", "json").stdout)
    assert [r["ri"] for r in report["ri"]] == [ri, ri]
    assert report["mri"][0]["mri"] == ri
    assert {a["n_images"] for a in report["accuracies"]} == {10 if suite == "paper-quick" else 40}


def test_pairing_follows_the_pre_key_not_the_label(two_suites):
    results = load_results(two_suites, "paper")
    post = results.find("m", "s", "d0", "d1")
    assert results.pre_for(post).key == "paper-pre-d1"


def test_several_suites_report_one_after_another_and_never_in_one_table(two_suites, run_rib):
    table = run_rib("report", str(two_suites))
    assert table.exit_code == 0, table.stderr
    assert "suite paper-quick" in table.stdout and "suite paper" in table.stdout
    assert table.stdout.count("m · s") == 2  # one matrix per suite
    assert "-50.0" in table.stdout and "+25.0" in table.stdout
    mixed = run_rib("report", str(two_suites), "--format", "json")
    assert mixed.exit_code == 2 and "--suite" in mixed.stderr and "paper-quick" in mixed.stderr
