"""`rib report DIR --against paper`: the paper's figure-read numbers next to rib's, for the cells a run has.

The paper's numbers ship as data (report/data/paper.json, from docs/results.md). Backbones are matched by the
suite's model label (the `paper` suite's labels: "IN-1K+AugReg", ..., "LAION-2B"), datasets by rib's labels.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from rib_core.errors import UsageError
from rib_core.metrics.replicates import bootstrap_means, combine, interval, seed_of, seed_table

KNOWN = ("paper",)


def paper_numbers() -> dict:
    return json.loads(resources.files("rib_core.report").joinpath("data/paper.json").read_text(encoding="utf-8"))


def _accuracy_boot(evaluation) -> np.ndarray:
    p = evaluation.predictions
    correct = (p["top_idx"][:, 0] == p["labels"]).astype(float)
    return 100.0 * bootstrap_means(evaluation.eval_dataset, correct, evaluation.weights(p),
                                   clusters=evaluation.clusters(p))[0]


def _row(table, model, what, paper, value, boot) -> dict:
    return {"table": table, "model": model, "what": what, "paper": paper, "rib": value,
            "ci": interval(boot) if boot is not None else None, "difference": value - paper}


def against(results, which: str = "paper") -> list[dict]:
    if which not in KNOWN:
        raise UsageError(f"--against {which}: the only published numbers rib ships are 'paper'.")
    numbers = paper_numbers()
    rows = []
    stats = seed_table(results)
    for model, (paper_pre, paper_post) in numbers["average_ood"].items():
        if model not in results.models:
            continue
        pres = [results.pretrained(model, j) for j in results.datasets]
        if any(e is None for e in pres):
            continue
        pre_boot = np.mean([_accuracy_boot(e) for e in pres], axis=0)
        pre = float(np.mean([e.accuracy for e in pres]))
        rows.append(_row("average OOD accuracy", model, "pretrained", paper_pre, pre, pre_boot))
        mris = [s for s in stats if s.model == model and s.mri is not None]
        if mris:  # the paper pools strategies: rib averages mRI over the strategies the run has
            after = pre + float(np.mean([s.mri for s in mris]))
            boot = pre_boot + np.mean([s.mri_boot for s in mris], axis=0)
            rows.append(_row("average OOD accuracy", model, f"after fine-tuning ({', '.join(s.strategy for s in mris)})",
                             paper_post, after, boot))
    cells = numbers["fine_tuned_on"]
    ft_on, strategy = cells["dataset"], cells["strategy"]
    for model, per_set in cells["cells"].items():
        if model not in results.models:
            continue
        for j, (paper_pre, paper_post) in per_set.items():
            pre = results.pretrained(model, j)
            if pre is None:
                continue
            rows.append(_row(f"fine-tuned on {ft_on}", model, f"{j}, pretrained", paper_pre, pre.accuracy,
                             _accuracy_boot(pre)))
            posts = [e for e in results.evaluations if (e.model, e.strategy, e.ft_dataset, e.eval_dataset)
                     == (model, strategy, ft_on, j)]
            if posts:
                posts.sort(key=lambda e: (seed_of(e) is None, seed_of(e)))
                boot = combine(np.stack([_accuracy_boot(e) for e in posts]))
                rows.append(_row(f"fine-tuned on {ft_on}", model, f"{j}, after {strategy}", paper_post,
                                 float(np.mean([e.accuracy for e in posts])), boot))
    if not rows:
        raise UsageError("--against paper: no backbone of this run carries a paper label (IN-1K+AugReg, IN-1K+SAM, "
                         "IN-21K, IN-21K-P, IN-21K+AugReg, OpenAI, LAION-2B) with its pretrained evaluations. "
                         "Run the 'paper' suite, or label your models like it.")
    return rows


def render(rows: list[dict], console) -> None:
    from rich.table import Table

    table = Table(title="The paper (figure-read, about ±1 point) next to rib (accuracy %, 95% CI)",
                  title_justify="left", show_edge=False, pad_edge=False)
    for name, justify in (("table", "left"), ("backbone", "left"), ("quantity", "left"), ("paper", "right"),
                          ("rib [95% CI]", "right"), ("rib − paper", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "quantity", overflow="fold")
    for r in rows:
        ci = f" [{r['ci'][0]:.1f},{r['ci'][1]:.1f}]" if r["ci"] else ""
        table.add_row(r["table"], r["model"], r["what"], f"{r['paper']:.1f}", f"{r['rib']:.1f}{ci}",
                      f"{r['difference']:+.1f}")
    console.print(table)
    console.print("Why they differ: docs/results.md (rib's split, ObjectNet scoring, bf16; the paper pools "
                  "strategies and was read by eye).", style="dim")
