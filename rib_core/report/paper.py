"""`rib report DIR --against paper`: the paper's figure-read numbers next to rib's, compared only where comparable.

The paper's numbers ship as data (report/data/paper.json, from docs/results.md), each with its source (which
released figure) and the readings rib made of it. Backbones are matched by the suite's model label (the `paper`
suite's labels: "IN-1K+AugReg", ..., "LAION-2B"), datasets by rib's labels.

Every row says whether it is comparable, and a row that is not has no difference (`difference` is null) and lists
why (`not_comparable`). A row is comparable only when everything it depends on is the paper's:
- the backbone: its pre-evaluations' recorded identity is the paper's timm model;
- the datasets: the paper's 8 downstream sets (average OOD accuracy), whole: each pre-evaluation scored the
  published number of images (unreadable ones counted), so a capped set or an ImageNet-C with fewer corruptions
  or severities is not;
- the methods: "after fine-tuning" pools only the strategies whose configuration is one of the released code's
  methods (paper.json "strategies", checked on the stored fine-tune records), trained with its settings
  (paper.json "training"); the others are listed as excluded, with the reason.
rib prints the non-comparable rows too (a quick run's numbers next to the paper's are still informative), marked
so, rather than refusing: docs/results.md documents the choice.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

from rib_core.errors import UsageError
from rib_core.metrics.bootstrap import joint_units
from rib_core.metrics.replicates import bootstrap_means, interval, seed_interval, seed_mean, seed_of, seed_table
from rib_core.metrics.robustness import source_family

KNOWN = ("paper",)


def paper_numbers() -> dict:
    return json.loads(resources.files("rib_core.report").joinpath("data/paper.json").read_text(encoding="utf-8"))


def _accuracy_boot(evaluation) -> np.ndarray:
    """Image replicates of an evaluation's accuracy (jointly by source image for datasets that share them)."""
    p = evaluation.predictions
    correct = (p["top_idx"][:, 0] == p["labels"]).astype(float)
    family = source_family(evaluation, p)
    clusters = joint_units(p["source_index"], evaluation.eval_dataset) if family else evaluation.clusters(p)
    return 100.0 * bootstrap_means(evaluation.eval_dataset, correct, evaluation.weights(p), clusters=clusters,
                                   family=family)[0]


def _row(table, model, what, paper, value, ci, problems: list[str], **extra) -> dict:
    comparable = not problems and value is not None
    return {"table": table, "model": model, "what": what, "paper": paper, "rib": value, "ci": ci,
            "difference": value - paper if comparable else None, "comparable": comparable,
            "not_comparable": problems} | extra


# -- what a run holds, read from its records ---------------------------------------------------------------------
def _record(store, key):
    try:
        return store.record(key) if store is not None and key else None
    except Exception:  # noqa: BLE001 - an unreadable record only makes the configuration unknown
        return None


def strategy_config(results, label: str) -> dict | None:
    """{"name", "variant", "params", "settings"} of a strategy of the run, from one of its stored fine-tunes
    (None when the records do not say: results from before rib recorded them, or in-memory test results)."""
    post = next((e for e in results.evaluations if e.strategy == label), None)
    cell = (post.record or {}).get("cell") if post is not None else None
    if not cell or not cell.get("strategy_name"):
        return None
    finetune = _record(post.store, cell.get("finetune_key"))
    if finetune is None:
        return None
    return {"name": cell["strategy_name"], "variant": cell.get("variant") or "",
            "params": finetune.get("strategy_params") or {}, "settings": finetune.get("settings") or {}}


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return a == b


def _method_of(config: dict | None, methods: dict, matched: dict[str, str]) -> tuple[str | None, str]:
    """(the paper method a strategy configuration is, or None; why not). `matched`: method -> run label of the
    strategies already matched (a soup is the paper's only if its ingredients are)."""
    if config is None:
        return None, "its configuration is not recorded"
    for method, spec in methods.items():
        if spec["name"] != config["name"]:
            continue
        if "soup" in spec:
            wanted = ["pre"] + [matched.get(m) for m in spec["soup"][1:]]
            if None not in wanted and config["variant"] == "+".join(wanted):
                return method, ""
            continue
        if all(_same(config["params"].get(k), v) for k, v in spec["params"].items()):
            return method, ""
    return None, f"{config['name']} with {config['params'] or 'its defaults'} is none of the paper's methods"


def _training_problem(config: dict, training: dict) -> str | None:
    differ = [f"{k} = {config['settings'].get(k)!r} (the paper: {v!r})" for k, v in training.items()
              if not _same(config["settings"].get(k), v)]
    return "trained with " + ", ".join(differ) if differ else None


def paper_strategies(results, numbers: dict) -> tuple[dict[str, str], dict[str, str]]:
    """({run label: paper method} of the strategies that are the paper's methods, trained with its settings;
    {run label: why not} of the others)."""
    methods, training = numbers["strategies"], numbers["training"]
    configs = {label: strategy_config(results, label) for label in results.strategies}
    # Plain methods first, soups after: a soup is the paper's only if its ingredients are.
    order = sorted(results.strategies, key=lambda label: (configs[label] or {}).get("name") == "soup")
    matched, paper, excluded = {}, {}, {}
    for label in order:
        method, why = _method_of(configs[label], methods, matched)
        if method is not None:
            why = _training_problem(configs[label], training) or ""
        if method is None or why:
            excluded[label] = why
            continue
        matched.setdefault(method, label)
        paper[label] = method
    return paper, excluded


def model_problems(results, model: str, numbers: dict) -> list[str]:
    timm = numbers["models"][model]["timm"]
    pres = [e for e in results.evaluations if e.model == model and e.strategy is None]
    identities = {(e.record or {}).get("backbone") for e in pres}
    if not pres or None in identities:
        return [f"{model}: the backbone's identity is not recorded (the paper's: timm {timm})"]
    wrong = sorted(i for i in identities if not str(i).startswith(f"timm:{timm}@"))
    return [f"{model} is {wrong[0].split('@')[0]}, not the paper's timm:{timm}"] if wrong else []


def dataset_problems(results, model: str, datasets, numbers: dict) -> list[str]:
    """Why `model`'s pre-evaluations of `datasets` are not the paper's whole datasets."""
    published = numbers["datasets"] | numbers["reference"]
    problems = []
    for j in datasets:
        pre = results.pretrained(model, j)
        if pre is None:
            problems.append(f"{j}: no pretrained evaluation")
            continue
        scored = pre.n_images + len((pre.record or {}).get("unreadable", []))
        if scored != published[j]:
            problems.append(f"{j}: {scored:,} of its {published[j]:,} images")
    return problems


def grid_problems(results, numbers: dict) -> tuple[list[str], list[str]]:
    """(why the run's datasets are not the paper's 8: missing ones; extra ones, which only RI_i averages over)."""
    paper_sets = list(numbers["datasets"])
    missing = [d for d in paper_sets if d not in results.datasets]
    extra = [d for d in results.datasets if d not in paper_sets]
    return ([f"{len(paper_sets) - len(missing)} of {len(paper_sets)} datasets (missing: {', '.join(missing)})"]
            if missing else [],
            [f"the run's datasets also hold {', '.join(extra)}, which RI_i averages over"] if extra else [])


# -- the rows ----------------------------------------------------------------------------------------------------
def against(results, which: str = "paper") -> list[dict]:
    if which not in KNOWN:
        raise UsageError(f"--against {which}: the only published numbers rib ships are 'paper'.")
    numbers = paper_numbers()
    paper, excluded = paper_strategies(results, numbers)
    stats = {(s.model, s.strategy): s for s in seed_table(results)}
    missing, extra = grid_problems(results, numbers)
    figure = numbers["average_ood"]["figure"].split(":", 1)[0]
    rows = []
    for model, (paper_pre, paper_post) in numbers["average_ood"]["values"].items():
        if model not in results.models:
            continue
        present = [j for j in numbers["datasets"] if j in results.datasets]
        pres = [results.pretrained(model, j) for j in present]
        if not present or any(e is None for e in pres):
            continue
        who = model_problems(results, model, numbers)
        data = dataset_problems(results, model, present, numbers)
        pre_boot = np.mean([_accuracy_boot(e) for e in pres], axis=0)
        pre = float(np.mean([e.accuracy for e in pres]))
        rows.append(_row("average OOD accuracy", model, "pretrained", paper_pre, pre, interval(pre_boot),
                         who + missing + data, source=figure))
        pooled = [s for label in paper if (s := stats.get((model, label))) is not None and s.mri is not None]
        what = f"after fine-tuning (pooled: {', '.join(s.strategy for s in pooled) or 'none'})"
        problems = who + missing + extra + data + ([] if pooled else ["no strategy of the run is one of the paper's methods"])
        after = ci = None
        if pooled:
            after = pre + float(np.mean([s.mri for s in pooled]))
            seeds = sorted(set.intersection(*(set(_complete_seeds(s, results)) for s in pooled)),
                           key=lambda s: (s is None, s))
            values = [pre + float(np.mean([np.mean(list(s.per_seed[seed].ri.values())) for s in pooled]))
                      for seed in seeds]
            ci = seed_interval(values, pre_boot + np.mean([s.mri_boot for s in pooled], axis=0))
        rows.append(_row("average OOD accuracy", model, what, paper_post, after, ci, problems, source=figure,
                         pooled={s.strategy: paper[s.strategy] for s in pooled}, excluded=excluded))
    rows += _fine_tuned_on(results, numbers, paper)
    if not rows:
        raise UsageError("--against paper: no backbone of this run carries a paper label (IN-1K+AugReg, IN-1K+SAM, "
                         "IN-21K, IN-21K-P, IN-21K+AugReg, OpenAI, LAION-2B) with its pretrained evaluations. "
                         "Run the 'paper' suite, or label your models like it.")
    return rows


def _complete_seeds(stats, results) -> list:
    return [seed for seed, run in stats.per_seed.items() if len(run.ri) == len(results.datasets)]


def _fine_tuned_on(results, numbers: dict, paper: dict[str, str]) -> list[dict]:
    cells = numbers["fine_tuned_on"]
    ft_on, method = cells["dataset"], cells["strategy"]
    figure = cells["figure"].split(":", 1)[0]
    labels = [label for label, m in paper.items() if m == method]
    label = labels[0] if labels else numbers["strategies"][method]["name"]
    rows = []
    for model, per_set in cells["cells"].items():
        if model not in results.models:
            continue
        who = model_problems(results, model, numbers)
        for j, (paper_pre, paper_post) in per_set.items():
            pre = results.pretrained(model, j)
            if pre is None:
                continue
            data = dataset_problems(results, model, [j], numbers)
            rows.append(_row(f"fine-tuned on {ft_on}", model, f"{j}, pretrained", paper_pre, pre.accuracy,
                             interval(_accuracy_boot(pre)), who + data, source=figure))
            posts = [e for e in results.evaluations if (e.model, e.strategy, e.ft_dataset, e.eval_dataset)
                     == (model, label, ft_on, j)]
            if not posts:
                continue
            posts.sort(key=lambda e: (seed_of(e) is None, seed_of(e)))
            boots = [_accuracy_boot(e) for e in posts]
            accuracies = [e.accuracy for e in posts]
            problems = who + data + dataset_problems(results, model, [ft_on], numbers)
            if label not in paper:
                problems.append(f"{label} is not the paper's {method}")
            rows.append(_row(f"fine-tuned on {ft_on}", model, f"{j}, after {label}", paper_post,
                             float(np.mean(accuracies)), seed_interval(accuracies, seed_mean(np.stack(boots))),
                             problems, source=figure))
    return rows


def render(rows: list[dict], console) -> None:
    from rich.table import Table

    table = Table(title="The paper (figure-read, about ±1 point) next to rib (accuracy %, 95% CI)",
                  title_justify="left", show_edge=False, pad_edge=False)
    for name, justify in (("table", "left"), ("backbone", "left"), ("quantity", "left"), ("paper", "right"),
                          ("rib [95% CI]", "right"), ("rib − paper", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "quantity", overflow="fold")
    reasons: list[str] = []
    for r in rows:
        ci = f" [{r['ci'][0]:.1f},{r['ci'][1]:.1f}]" if r["ci"] else ""
        rib = "—" if r["rib"] is None else f"{r['rib']:.1f}{ci}"
        if r["comparable"]:
            difference = f"{r['difference']:+.1f}"
        else:
            why = "; ".join(r["not_comparable"])
            if why not in reasons:
                reasons.append(why)
            difference = f"not comparable [{reasons.index(why) + 1}]"
        table.add_row(r["table"], r["model"], r["what"], f"{r['paper']:.1f}", rib, difference)
    from rib_core.report.terminal import widen_to

    widen_to(console, table)  # off a terminal, at least as wide as its content: no number is cut
    console.print(table)
    for n, why in enumerate(reasons, 1):
        console.print(f"[{n}] not comparable: {why}", markup=False, highlight=False)
    excluded = next((r["excluded"] for r in rows if r.get("excluded")), {})
    if excluded:
        console.print("Not pooled (not one of the paper's methods as the released code ran them): " + "; ".join(
            f"{label}: {why}" for label, why in excluded.items()), style="dim", markup=False, highlight=False)
    console.print("Sources: the released repository's figures (assets/bar.png, assets/rader.png); that 'after "
                  "fine-tuning' pools the paper's methods and that the ImageNet-R cells are FT are rib's "
                  "readings of them. Why they differ: docs/results.md.", style="dim")
