"""The report as data: accuracies, RI, mRI and every metric's rows. Every output format renders this."""

from __future__ import annotations

from rib_core.engine.results import Results

CORE_ROWS = ("top1", "ri", "mri")


def build_report(results: Results, registry, metric_names: list[str] | None = None) -> dict:
    names = metric_names or [r.name for r in registry.names("metrics")]
    for required in CORE_ROWS:
        if required not in names:
            names = [required] + list(names)
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
    report = {
        "datasets": results.datasets,
        "reference": results.reference,
        "models": results.models,
        "strategies": results.strategies,
        "accuracies": [{"model": r["model"], "strategy": r["strategy"], "ft_dataset": r["ft_dataset"],
                        "eval_dataset": r["eval_dataset"], "accuracy": r["value"], "n_images": r["n_images"],
                        "subset": r["subset"], "seed": r.get("seed")} for r in rows["top1"]],
        "ri": [{"model": r["model"], "strategy": r["strategy"], "ft_dataset": r["ft_dataset"], "ri": r["value"],
                "ri_ci": r["ci"], "seed_sd": r.get("seed_sd"), "seeds": r.get("seeds")} for r in rows["ri"]],
        "mri": [{"model": r["model"], "strategy": r["strategy"], "mri": r["value"], "mri_ci": r["ci"],
                 "seed_sd": r.get("seed_sd"), "seeds": r.get("seeds")} for r in rows["mri"]],
        "metrics": [r for name, rs in rows.items() if name not in CORE_ROWS for r in rs],
        "incomplete_cells": results.missing,
        "failures": [{"cell": f.get("cell", {}).get("key"), "error": f.get("error")} for f in results.failures],
        "unreadable_images": {e.eval_dataset: len(e.record.get("unreadable", [])) for e in results.evaluations
                              if e.strategy is None and e.record.get("unreadable")},
        "metric_errors": errors,
    }
    return report


def lookup(report: dict, table: str, **where):
    for r in report[table]:
        if all(r.get(k) == v for k, v in where.items()):
            return r
    return None

