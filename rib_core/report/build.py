"""The report as data, built from the run model (rib_core/engine/results.py): every output format renders this.

Per-seed accuracies are in `accuracies`; `matrix` holds what a table or a figure shows for each cell of the grid:
the mean over the seeds that finished (with their number and SD). RI and mRI come from the metrics, which average
over seeds themselves. The run's state (cells done, failed, not run, pending) and its evaluation mode travel with
the numbers, so no output has to work out for itself what a run is.
"""

from __future__ import annotations

import math

from rib_core.engine.results import Results

CORE_ROWS = ("top1", "ri", "mri")


def build_report(results: Results, registry, metric_names: list[str] | None = None) -> dict:
    names = list(metric_names or [r.name for r in registry.names("metrics")])
    for required in CORE_ROWS:
        if required not in names:
            names = [required] + names
    rows: dict[str, list] = {}
    errors = []
    for name in names:
        reg = registry.get("metrics", name)
        try:
            metric = reg.create()
            rows[name] = metric.compute(results)
        except Exception as exc:  # a broken third-party metric must not hide the others
            if name in CORE_ROWS:
                raise
            errors.append(f"metric '{name}' from plugin '{reg.plugin}' failed: {type(exc).__name__}: {exc}")
    accuracies = [{"model": r["model"], "strategy": r["strategy"], "ft_dataset": r["ft_dataset"],
                   "eval_dataset": r["eval_dataset"], "accuracy": r["value"], "n_images": r["n_images"],
                   "subset": r["subset"], "seed": r.get("seed")} for r in rows["top1"]]
    counts = {state: results.count(state) for state in ("done", "failed", "not run", "in progress", "pending")}
    report = {
        "suite": results.suite,
        "eval_images": results.eval_images,
        "seeds": list(results.seeds),
        "status": run_status(counts),
        "cell_counts": counts,
        "datasets": results.datasets,
        "reference": results.reference,
        "models": results.models,
        "strategies": results.strategies,
        "accuracies": accuracies,
        "matrix": seed_means(accuracies),
        "ri": [{"model": r["model"], "strategy": r["strategy"], "ft_dataset": r["ft_dataset"], "ri": r["value"],
                "ri_ci": r["ci"], "seed_sd": r.get("seed_sd"), "seeds": r.get("seeds")} for r in rows["ri"]],
        "mri": [{"model": r["model"], "strategy": r["strategy"], "mri": r["value"], "mri_ci": r["ci"],
                 "seed_sd": r.get("seed_sd"), "seeds": r.get("seeds")} for r in rows["mri"]],
        "metrics": [r for name, rs in rows.items() if name not in CORE_ROWS for r in rs],
        "incomplete_cells": results.missing,
        "pending_cells": sum(1 for c in results.cells if c.state == "pending" and c.reported),
        "failures": [{"cell": c.key, "kind": c.kind, "what": c.what, "error": c.detail, "seed": c.seed}
                     for c in results.failures],
        "not_run": [{"cell": c.key, "kind": c.kind, "what": c.what, "because": c.detail, "seed": c.seed}
                    for c in results.cells if c.state == "not run" and c.reported],
        "superseded": list(results.superseded),
        **shared_source_keys(results.source_overlap),
        "run": dict(results.run_info, versions=versions(results), suite_table=results.suite_table),
        "unreadable_images": {e.eval_dataset: len(e.record.get("unreadable", [])) for e in results.evaluations
                              if e.strategy is None and e.record.get("unreadable")},
        "metric_errors": errors,
    }
    return report


def versions(results: Results) -> dict:
    """The versions of rib, torch, timm and the plugins that computed the stored results: {package: [versions]}
    (more than one when cells were computed by different installations)."""
    seen: dict[str, set] = {}
    for status in results.cells:
        for package, version in ((status.record or {}).get("versions") or {}).items():
            seen.setdefault(package, set()).add(str(version))
    return {package: sorted(v) for package, v in sorted(seen.items())}


def shared_source_keys(overlap: dict | None) -> dict:
    """What the outputs say about evaluated images that render the fine-tuning set's source images: the pairs with
    any overlap, with their fraction (`shared_sources`), EWC's anchor against the evaluated reference images
    (`anchor_overlap`), and the footnote of each such column (`footnotes`). Empty under eval_images =
    "held-out-sources", where every fraction is 0 (rib_core/data/source_overlap.py)."""
    from rib_core.data.source_overlap import anchor_footnote, column_footnotes, footnote

    if not overlap:
        return {"shared_sources": [], "anchor_overlap": None, "footnotes": {}}
    pairs = [dict(p, footnote=footnote(p)) for p in overlap["pairs"] if p["shared"]]
    anchor = overlap.get("anchor")
    anchor = dict(anchor, footnote=anchor_footnote(overlap)) if anchor and anchor["shared"] else None
    return {"shared_sources": pairs, "anchor_overlap": anchor, "footnotes": column_footnotes(overlap)}


def run_status(counts: dict) -> str:
    """One phrase for the whole run: complete, or what keeps it from being complete."""
    parts = []
    if counts["failed"]:
        parts.append(f"{counts['failed']} cell(s) failed")
    if counts["not run"]:
        parts.append(f"{counts['not run']} not run (a cell they need failed)")
    if counts["in progress"]:
        parts.append(f"{counts['in progress']} in progress")
    if counts["pending"]:
        parts.append(f"{counts['pending']} pending")
    return "; ".join(parts) if parts else "complete"


def seed_means(accuracies: list[dict]) -> list[dict]:
    """One row per grid cell (model, strategy, ft_dataset, eval_dataset): the mean accuracy over its seeds, how
    many there are, which, and their SD (None with one seed). Rows keep the order of their first seed's row."""
    groups: dict[tuple, list[dict]] = {}
    for r in accuracies:
        groups.setdefault((r["model"], r["strategy"], r["ft_dataset"], r["eval_dataset"]), []).append(r)
    out = []
    for (model, strategy, ft, ev), rs in groups.items():
        values = [r["accuracy"] for r in rs]
        mean = sum(values) / len(values)
        sd = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None)
        out.append({"model": model, "strategy": strategy, "ft_dataset": ft, "eval_dataset": ev, "accuracy": mean,
                    "n_seeds": len(values), "seeds": [r.get("seed") for r in rs], "seed_sd": sd,
                    "n_images": rs[0].get("n_images"), "subset": rs[0].get("subset")})
    return out


def lookup(report: dict, table: str, **where):
    for r in report[table]:
        if all(r.get(k) == v for k, v in where.items()):
            return r
    return None


def mean_of(report: dict, table: str, field: str, **where) -> float | None:
    """The mean of `field` over the rows of `table` that match (e.g. a metric's rows over seeds); None if none."""
    values = [r[field] for r in report[table] if all(r.get(k) == v for k, v in where.items())
              and isinstance(r.get(field), (int, float))]
    return sum(values) / len(values) if values else None
