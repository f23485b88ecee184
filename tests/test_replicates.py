"""Training-seed replicates, paired comparisons and the paper side by side, on the toy grid.

Every number is checked against a computation straight from the stored prediction files (independent_ri in
test_engine), and every interval against a brute-force image bootstrap plus Student-t seed component written
here from scratch.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from rib_core.testing import toy
from tests.helpers import work_done


def write_suite(tmp_path, seeds=None, **names) -> Path:
    """tiny/a, ft and lp, on the three toy domains with toy-ref; `seeds` and other keys as given."""
    return toy.grid_suite(tmp_path / "suite.toml", **{"models": ["tiny/a"], "seeds": seeds, **names})


def stored_correct(out):
    """(model, strategy, seed, ft_dataset, eval_dataset) -> (positions, correct) read from the cell files."""
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    found = {}
    for cell in manifest["cells"]:
        if cell["kind"] == "eval" and cell["reported"]:
            p = load_file(str(out / "cells" / cell["key"] / "predictions.safetensors"))
            key = (cell["model"], cell["strategy"], cell["seed"], cell["ft_dataset"], cell["eval_dataset"])
            found[key] = (p["positions"], (p["top_idx"][:, 0] == p["labels"]).astype(float))
    return manifest, found


def brute_force(manifest, found, model, strategies, seeds, replicates=4000, rng_seed=123):
    """Per D_i (and None for mRI): the seed-mean point value and its interval, by loops.

    strategies = (A,) for RI of A, (A, B) for the difference A - B. Images of D_j are resampled once per
    replicate and shared by every seed and strategy (percentiles of the seed mean); the seeds add a Student-t
    half-width t_(S-1) * sd / sqrt(S) in quadrature to each end (docs/protocol.md).
    """
    from scipy import stats

    rng = np.random.default_rng(rng_seed)
    datasets = manifest["datasets"]

    def ri(seed, i, draw):
        total = 0.0
        for sign, strategy in zip((1, -1), strategies):
            for j in datasets:
                if j == i:
                    continue
                positions, post = found[(model, strategy, seed, i, j)]
                pre_pos, pre = found[(model, None, None, None, j)]
                pre = dict(zip(pre_pos.tolist(), pre))
                delta = post - np.array([pre[p] for p in positions.tolist()])
                total += sign * 100 * delta[draw[j]].mean() / (len(datasets) - 1)
        return total

    identity = {j: np.arange(len(found[(model, None, None, None, j)][0])) for j in datasets}
    per_seed = {i: [ri(s, i, identity) for s in seeds] for i in datasets}
    per_seed[None] = [np.mean([per_seed[i][k] for i in datasets]) for k in range(len(seeds))]
    points = {i: np.mean(v) for i, v in per_seed.items()}
    boots = {i: [] for i in [*datasets, None]}
    for _ in range(replicates):
        draw = {j: rng.integers(0, len(idx), len(idx)) for j, idx in identity.items()}
        per = {i: np.mean([ri(s, i, draw) for s in seeds]) for i in datasets}
        for i in datasets:
            boots[i].append(per[i])
        boots[None].append(np.mean(list(per.values())))
    intervals = {}
    for i, b in boots.items():
        low, high = np.quantile(b, [0.025, 0.975])
        m, n = points[i], len(seeds)
        h = stats.t.ppf(0.975, n - 1) * np.std(per_seed[i], ddof=1) / np.sqrt(n) if n > 1 else 0.0
        intervals[i] = (m - np.hypot(max(m - low, 0), h), m + np.hypot(max(high - m, 0), h))
    return points, intervals


def test_seeds_run_only_new_cells_and_combine_images_and_seeds(toy_env, bench, run_rib):
    out = toy_env / "out"
    first = bench(write_suite(toy_env), out)
    run1, _, _, _ = work_done(first.stderr)
    # seeds = [0, 1] keeps seed 0's cells (the default seed) and runs only seed 1's fine-tunes and evaluations.
    second = bench(write_suite(toy_env, [0, 1]), out)
    run2, reused2, _, _ = work_done(second.stderr)
    assert reused2 == run1
    assert run2 == 2 * 3 * (1 + 4)  # per strategy and D_i: one fine-tune, four post-evaluations; no pre-evaluation

    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    manifest, found = stored_correct(out)
    assert manifest["seeds"] == [0, 1]
    points, intervals = brute_force(manifest, found, "tiny/a", ("ft",), [0, 1])
    for row in (r for r in report["ri"] if r["strategy"] == "ft"):
        assert row["seeds"] == [0, 1]
        assert row["ri"] == pytest.approx(points[row["ft_dataset"]], abs=1e-9)
        per_seed = [brute_force(manifest, found, "tiny/a", ("ft",), [s], replicates=1)[0][row["ft_dataset"]]
                    for s in (0, 1)]
        assert row["seed_sd"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-9)
        low, high = row["ri_ci"]
        assert low <= row["ri"] <= high
        ref_low, ref_high = intervals[row["ft_dataset"]]
        width = ref_high - ref_low
        assert abs(low - ref_low) < 0.2 * width + 0.5 and abs(high - ref_high) < 0.2 * width + 0.5
    mri = next(r for r in report["mri"] if r["strategy"] == "ft")
    assert mri["mri"] == pytest.approx(points[None], abs=1e-9)
    assert mri["mri_ci"][0] <= mri["mri"] <= mri["mri_ci"][1]

    # Paired comparison: the difference, its interval, a verdict only when the interval excludes 0.
    compared = json.loads(run_rib("report", str(out), "--format", "json", "--compare", "ft", "lp").stdout)
    points, intervals = brute_force(manifest, found, "tiny/a", ("ft", "lp"), [0, 1])
    rows = compared["comparisons"]
    assert len(rows) == 4 and {r["ft_dataset"] for r in rows} == {"toy-a", "toy-b", "toy-c", None}
    for row in rows:
        assert row["difference"] == pytest.approx(points[row["ft_dataset"]], abs=1e-9)
        ref_low, ref_high = intervals[row["ft_dataset"]]
        width = ref_high - ref_low
        assert abs(row["ci"][0] - ref_low) < 0.2 * width + 0.5 and abs(row["ci"][1] - ref_high) < 0.2 * width + 0.5
        excludes_zero = row["ci"][0] > 0 or row["ci"][1] < 0
        assert (row["verdict"] is not None) == excludes_zero
    table = run_rib("report", str(out), "--compare", "ft", "lp").stdout
    assert "ft minus lp" in table

    bad = run_rib("report", str(out), "--compare", "ft", "nope")
    assert bad.exit_code == 2 and "two strategies" in bad.stderr


def test_seeds_must_be_distinct_integers(toy_env, bench):
    result = bench(write_suite(toy_env, [0, "1"]), toy_env / "o")
    assert result.exit_code == 2 and "seeds: expected a list of integers" in result.stderr
    repeated = bench(write_suite(toy_env, [0, 0]), toy_env / "o")
    assert repeated.exit_code == 2 and "seeds: expected a list of distinct integers" in repeated.stderr


def test_against_paper_puts_the_papers_numbers_next_to_ribs(toy_env, bench, run_rib):
    suite = write_suite(toy_env, models=[{"name": "tiny/a", "label": "LAION-2B"}],
                        datasets=[{"name": "toy-a", "label": "imagenet-r"}, {"name": "toy-b", "label": "imagenet-v2"},
                                  {"name": "toy-c", "label": "imagenet-a"}],
                        reference={"name": "toy-ref", "label": "imagenet-val"})
    out = toy_env / "out"
    assert bench(suite, out).exit_code == 0
    report = json.loads(run_rib("report", str(out), "--format", "json", "--against", "paper").stdout)
    rows = {(r["table"], r["what"].split(" (")[0]): r for r in report["against"]}
    pre = np.mean([a["accuracy"] for a in report["accuracies"] if a["strategy"] is None
                   and a["eval_dataset"] != "imagenet-val"])
    head = rows[("average OOD accuracy", "pretrained")]
    assert head["paper"] == 61.5 and head["rib"] == pytest.approx(pre)
    # A toy run labelled like the paper is shown next to it, but compared with nothing.
    assert head["comparable"] is False and head["difference"] is None
    assert any("3 of 8 datasets" in why for why in head["not_comparable"])
    assert any("not the paper's timm:vit_base_patch16_clip_224.laion2b_ft_in1k" in why
               for why in head["not_comparable"])
    after = rows[("average OOD accuracy", "after fine-tuning")]
    assert after["paper"] == 23.4 and after["rib"] is None and after["pooled"] == {}  # no paper method here
    assert "lr = 0.05" in after["excluded"]["ft"] and "none of the paper's methods" in after["excluded"]["lp"]
    cell = rows[("fine-tuned on imagenet-r", "imagenet-v2, after ft")]
    ft_acc = next(a["accuracy"] for a in report["accuracies"] if (a["strategy"], a["ft_dataset"], a["eval_dataset"])
                  == ("ft", "imagenet-r", "imagenet-v2"))
    assert cell["paper"] == 35 and cell["rib"] == pytest.approx(ft_acc) and cell["difference"] is None
    assert cell["ci"][0] <= ft_acc <= cell["ci"][1]
    assert ("fine-tuned on imagenet-r", "imagenet-val, pretrained") in rows  # the reference set, too
    assert not any("sketch" in r["what"] for r in report["against"])  # only cells the run has
    table = run_rib("report", str(out), "--against", "paper").stdout
    assert "61.5" in table and "LAION-2B" in table

    no_labels = run_rib("report", str(out), "--against", "nature")
    assert no_labels.exit_code == 2 and "'paper'" in no_labels.stderr
