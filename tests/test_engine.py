"""The protocol end to end on a toy grid: numbers, reuse, resume and the report's shape."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from rib_core.testing import toy
from tests.helpers import toy_process_env, work_done


def suite_file(tmp_path, strategies=("ft", "lp"), epochs=2) -> Path:
    return toy.grid_suite(tmp_path / "suite.toml", strategies=strategies, training={"epochs": epochs})


def independent_ri(out: Path) -> tuple[dict, dict]:
    """RI_i and mRI straight from the stored prediction files, without rib's results/metrics code."""
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    correct = {}
    for cell in manifest["cells"]:
        if cell["kind"] != "eval":
            continue
        p = load_file(str(out / "cells" / cell["key"] / "predictions.safetensors"))
        hits = dict(zip(p["positions"].tolist(), (p["top_idx"][:, 0] == p["labels"]).tolist()))
        correct[(cell["model"], cell["strategy"], cell["ft_dataset"], cell["eval_dataset"])] = hits
    datasets = manifest["datasets"]
    ri, mri = {}, {}
    for model in manifest["models"]:
        for strategy in manifest["strategies"]:
            for i in datasets:
                diffs = []
                for j in datasets:
                    if j == i:
                        continue
                    post = correct[(model, strategy, i, j)]
                    pre = correct[(model, None, None, j)]
                    shared = sorted(post)
                    diffs.append(100 * (np.mean([post[k] for k in shared]) - np.mean([pre[k] for k in shared])))
                ri[(model, strategy, i)] = float(np.mean(diffs))
            mri[(model, strategy)] = float(np.mean([ri[(model, strategy, i)] for i in datasets]))
    return ri, mri


def test_full_grid_ri_and_mri_match_an_independent_computation(toy_env, bench, run_rib):
    result = bench(suite_file(toy_env), report=True)
    assert result.exit_code == 0, result.stderr
    out = result.out
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    ri, mri = independent_ri(out)
    assert len(report["ri"]) == len(ri) == 2 * 2 * 3
    for row in report["ri"]:
        assert row["ri"] == pytest.approx(ri[(row["model"], row["strategy"], row["ft_dataset"])], abs=1e-9)
        low, high = row["ri_ci"]
        assert low <= row["ri"] + 1e-9 and row["ri"] - 1e-9 <= high
    assert len(report["mri"]) == 4
    for row in report["mri"]:
        assert row["mri"] == pytest.approx(mri[(row["model"], row["strategy"])], abs=1e-9)
    # The shape promised to scripts.
    acc = report["accuracies"][0]
    assert set(acc) >= {"model", "strategy", "ft_dataset", "eval_dataset", "accuracy", "n_images"}
    assert any(a["ft_dataset"] is None and a["strategy"] is None for a in report["accuracies"])
    assert all(0 <= a["accuracy"] <= 100 for a in report["accuracies"])
    assert {"ri", "mri", "accuracies", "metrics"} <= set(report)
    # Reference-set forgetting and in-distribution gain are reported for every fine-tune.
    assert sum(m["metric"] == "forgetting" for m in report["metrics"]) == 12
    assert sum(m["metric"] == "id-gain" for m in report["metrics"]) == 12
    # The terminal report shows every matrix and the summary.
    table = run_rib("report", str(out)).stdout
    assert "tiny/a · ft" in table and "mRI" in table
    csv_text = run_rib("report", str(out), "--format", "csv").stdout
    assert csv_text.splitlines()[0] == ("model,strategy,ft_dataset,eval_dataset,seed,accuracy,n_images,subset,"
                                        "eval_images,shared_source_fraction")
    pytest.importorskip("matplotlib")
    assert run_rib("report", str(out), "--plot", str(toy_env / "ri.png")).exit_code == 0
    assert (toy_env / "ri.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_does_no_work_and_a_new_strategy_never_repeats_pre_evaluations(toy_env, bench):
    first = bench(suite_file(toy_env))
    run, reused, forwards, steps = work_done(first.stderr)
    assert reused == 0 and forwards > 0 and steps > 0

    again = bench(suite_file(toy_env))
    assert work_done(again.stderr) == (0, run, 0, 0)

    added = bench(suite_file(toy_env, ("ft", "lp", "l2-sp")))
    run3, reused3, forwards3, steps3 = work_done(added.stderr)
    assert reused3 == run
    # Exactly the new strategy's evaluations: per model and D_i, D_i's held-out part + all of the other two
    # datasets + the reference set. No pre-evaluation again.
    from rib_core.data.splits import split_indices

    n = {name: len(toy.ToyDataset(name, None, {"adapter": name}).samples()) for name in toy.DOMAINS}
    held = {name: len(split_indices(toy.ToyDataset(name, None, {"adapter": name}).samples(), 0.8, 0)[1])
            for name in toy.DOMAINS}
    expected = 2 * sum(held[i] + sum(n[j] for j in ("toy-a", "toy-b", "toy-c") if j != i) + n["toy-ref"]
                       for i in ("toy-a", "toy-b", "toy-c"))
    assert forwards3 == expected
    assert run3 == 2 * 3 * (1 + 4)  # a fine-tune and four evaluations per (model, D_i)


def test_changing_one_hyper_parameter_recomputes_only_what_it_touches(toy_env, bench):
    bench(suite_file(toy_env))
    changed = suite_file(toy_env, ("ft", {"name": "lp", "label": "lp"}))
    # Same strategies, same settings: nothing to do.
    assert work_done(bench(changed).stderr)[0] == 0
    text = changed.read_text().replace("epochs = 2", "epochs = 3")
    changed.write_text(text)
    run3, reused3, forwards3, _ = work_done(bench(changed).stderr)
    assert reused3 == 2 * 4  # the pre-evaluations (3 datasets + reference, 2 models) are kept


@pytest.mark.slow  # a run in a subprocess, killed mid-fine-tune (the reference and the resume run in-process)
def test_sigkill_mid_fine_tune_resumes_and_matches_an_uninterrupted_run(toy_env, bench):
    # One torch thread for every run, in this process or not: the same kernels, so the same bytes.
    suite = toy.grid_suite(toy_env / "suite.toml", models=["tiny/a"], strategies=["ft"], training={"epochs": 4},
                           cpu_threads=1)
    reference = bench(suite, toy_env / "uninterrupted")
    assert reference.exit_code == 0, reference.stderr

    out = toy_env / "killed"
    command = [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--device", "cpu", "--no-report"]
    proc = subprocess.Popen(command + ["--out", str(out)], env=toy_process_env(toy_env, RIB_TOY_STEP_SLEEP="0.05"),
                            cwd=toy_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("cells/*/work/checkpoint*.json")):
        time.sleep(0.05)
    assert list(out.glob("cells/*/work/checkpoint*.json")), "no checkpoint appeared"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    resumed = bench(suite, out)
    assert resumed.exit_code == 0, resumed.stderr
    logs = [json.loads(p.read_text()).get("train_log") or {} for p in out.glob("cells/*/record.json")]
    assert any((log.get("resumed_from_step") or 0) > 0 for log in logs), "the fine-tune restarted instead of resuming"

    def predictions(root: Path) -> dict:
        manifest = json.loads((root / "runs" / "toy.json").read_text())
        return {(c["strategy"], c["ft_dataset"], c["eval_dataset"]):
                (root / "cells" / c["key"] / "predictions.safetensors").read_bytes()
                for c in manifest["cells"] if c["kind"] == "eval"}

    assert predictions(out) == predictions(toy_env / "uninterrupted")
