"""`--against paper` compares only where comparable (docs/results.md): the paper's 8 datasets, whole; the paper's
backbone; pooling only the paper's methods, trained with its settings. Anything else is printed next to the
paper's number, marked "not comparable" with the reason, and has no difference."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from rib_core.engine.results import Evaluation, Results
from rib_core.engine.store import Store
from rib_core.metrics.replicates import seed_table
from rib_core.report.paper import against, paper_numbers, render

PAPER = paper_numbers()
LAION = f"timm:{PAPER['models']['LAION-2B']['timm']}@0123abcd"


def test_a_two_dataset_run_is_shown_but_compared_with_nothing(toy_env, run_rib):  # noqa: F811
    suite = toy_env / "suite.toml"
    suite.write_text("""
[suites.toy]
models = [{ name = "tiny/a", label = "LAION-2B" }]
datasets = [{ name = "toy-a", label = "imagenet-r" }, { name = "toy-b", label = "imagenet-v2" }]
strategies = ["ft", "lp"]
eval_batch_size = 16

[suites.toy.training]
lr = 0.05
epochs = 1
warmup_steps = 1
batch_size = 8
""")
    out = toy_env / "out"
    assert run_rib("bench", "-c", str(suite), "--out", str(out), "--no-report").exit_code == 0
    result = run_rib("report", str(out), "--format", "json", "--against", "paper")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["against"]
    assert rows and all(not r["comparable"] and r["difference"] is None for r in rows)
    head = next(r for r in rows if r["what"] == "pretrained")
    assert "2 of 8 datasets (missing: imagenet-a, imagenet-sketch, objectnet, imagenet-cartoon, imagenet-drawing, " \
           "imagenet-c)" in head["not_comparable"]
    table = run_rib("report", str(out), "--against", "paper").stdout
    assert "not comparable [1]" in table and "[1] not comparable: " in table and "2 of 8 datasets" in table, table
    lines = [line for line in table.splitlines() if "LAION-2B" in line and ("average OOD" in line or
                                                                           "fine-tuned on" in line)]
    assert lines and all("not comparable [" in line for line in lines)  # no "rib − paper" difference

    # The same results directory: --compare takes --alpha, and refuses a level outside (0, 1).
    compared = json.loads(run_rib("report", str(out), "--format", "json", "--compare", "ft", "lp", "--alpha",
                                  "0.1").stdout)["comparisons"]
    assert {r["alpha"] for r in compared} == {0.1} and {r["correction"] for r in compared} == {"holm", "none"}
    bad = run_rib("report", str(out), "--compare", "ft", "lp", "--alpha", "5")
    assert bad.exit_code == 2 and "--alpha" in bad.stderr and "Traceback" not in bad.stderr


# -- a run that is the paper's, in miniature: records say so, predictions are small ------------------------------
def evaluation(store, model_id, strategy, ft, dataset, correct, n_images, finetune=None):
    n = len(correct)
    pred = {"positions": np.arange(n, dtype=np.int64), "labels": np.zeros(n, np.int64),
            "top_idx": np.where(np.asarray(correct, bool), 0, 1).astype(np.int32)[:, None],
            "group_index": np.zeros(n, np.int64)}
    record = {"groups": [], "unreadable": [], "backbone": model_id if strategy is None else f"{model_id}/ft"}
    if finetune is not None:
        record["cell"] = {"strategy_name": finetune[0], "variant": "", "finetune_key": finetune[1]}
    return Evaluation("LAION-2B", strategy, ft, dataset, "all", 100 * np.mean(correct), n_images, record, store,
                      f"{strategy}/{ft}/{dataset}", _pred=pred)


def paper_like(tmp_path, images=None, model_id=LAION, ewc_lr=1e-3) -> Results:
    store = Store(tmp_path / "store")
    images = dict(PAPER["datasets"]) | (images or {})
    datasets = list(PAPER["datasets"])
    results = Results(datasets=datasets, reference="imagenet-val", models=["LAION-2B"], strategies=["ft", "ewc"])
    rng = np.random.default_rng(0)
    for j in [*datasets, "imagenet-val"]:
        results.evaluations.append(evaluation(store, model_id, None, None, j, rng.random(40) < 0.6,
                                              images.get(j, 50_000)))
    settings = dict(PAPER["training"])
    for strategy, name, params, lr in (("ft", "ft", {}, 1e-3), ("ewc", "ewc", {"lambda": 1.0}, ewc_lr)):
        for i in datasets:
            key = f"finetune-{strategy}-{i}"
            store.write_record(key, {"kind": "finetune", "strategy_params": params, "settings": settings | {"lr": lr}})
            for j in [*datasets, "imagenet-val"]:
                results.evaluations.append(evaluation(store, model_id, strategy, i, j, rng.random(40) < 0.3,
                                                      images.get(j, 50_000), (name, key)))
    return results


def test_the_papers_grid_is_compared_pooling_only_the_papers_methods(tmp_path):
    results = paper_like(tmp_path)
    rows = against(results)
    head = next(r for r in rows if r["what"] == "pretrained")
    assert head["comparable"] and head["not_comparable"] == []
    assert head["difference"] == pytest.approx(head["rib"] - 61.5)
    after = next(r for r in rows if r["what"].startswith("after fine-tuning"))
    assert after["pooled"] == {"ft": "FT"} and after["what"] == "after fine-tuning (pooled: ft)"
    assert "none of the paper's methods" in after["excluded"]["ewc"]  # rib's Fisher EWC is not the paper's "EWC"
    mri_ft = next(s.mri for s in seed_table(results) if s.strategy == "ft")
    assert after["comparable"] and after["rib"] == pytest.approx(head["rib"] + mri_ft)
    cells = [r for r in rows if r["table"] == "fine-tuned on imagenet-r"]
    assert len(cells) == 10 and all(r["comparable"] for r in cells)  # 5 sets x (pretrained, after ft)
    out = io.StringIO()
    render(rows, Console(file=out, width=250))
    assert "not comparable" not in out.getvalue().split("Not pooled")[0]
    assert "Not pooled" in out.getvalue() and "readings" in out.getvalue()


@pytest.mark.parametrize("change, reason", [
    ({"images": {"imagenet-c": 150_000}}, "imagenet-c: 150,000 of its 3,750,000 images"),
    ({"model_id": "timm:vit_base_patch16_224.augreg_in1k@1"}, "LAION-2B is timm:vit_base_patch16_224.augreg_in1k"),
])
def test_a_capped_set_or_another_backbone_is_not_comparable(tmp_path, change, reason):
    rows = against(paper_like(tmp_path, **change))
    average = [r for r in rows if r["table"] == "average OOD accuracy"]
    assert all(not r["comparable"] and r["difference"] is None for r in average)
    assert all(any(reason in why for why in r["not_comparable"]) for r in average)


def test_a_paper_method_trained_otherwise_is_not_pooled(tmp_path):
    results = paper_like(tmp_path)
    for e in results.evaluations:  # rib's "ewc" entry relabelled as the paper's EWC, l2-sp with weight 1 ...
        if e.strategy == "ewc":
            e.record["cell"]["strategy_name"] = "l2-sp"
    for i in results.datasets:  # ... but trained with a learning rate the paper did not use
        key = f"finetune-ewc-{i}"
        results.evaluations[0].store.write_record(key, {"strategy_params": {"weight": 1.0, "include_head": True},
                                                        "settings": dict(PAPER["training"]) | {"lr": 0.01}})
    after = next(r for r in against(results) if r["what"].startswith("after"))
    assert after["pooled"] == {"ft": "FT"} and "lr = 0.01 (the paper: 0.001)" in after["excluded"]["ewc"]
    for i in results.datasets:
        results.evaluations[0].store.write_record(f"finetune-ewc-{i}", {
            "strategy_params": {"weight": 1.0, "include_head": True}, "settings": dict(PAPER["training"])})
    after = next(r for r in against(results) if r["what"].startswith("after"))
    assert after["pooled"] == {"ft": "FT", "ewc": "EWC"}


def test_every_number_names_its_source_and_the_readings_are_marked():
    assert "e0a7e788f3a8ec0e55cecef027c9bc1b76d01902" in PAPER["source"]["figures"]
    assert PAPER["average_ood"]["figure"].startswith("assets/bar.png")
    assert PAPER["fine_tuned_on"]["figure"].startswith("assets/rader.png")
    assert any("pooled" in r for r in PAPER["average_ood"]["readings"])
    assert any("full fine-tuning" in r for r in PAPER["fine_tuned_on"]["readings"])
    for label in ("IN-1K+SAM", "IN-21K-P"):
        assert PAPER["models"][label]["source"].startswith("reading: not in the released code's model list")
