"""Machine-readable outputs (registered as the built-in sinks "json" and "csv")."""

from __future__ import annotations

import csv
import json
import math


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_json(report: dict, stream) -> None:
    json.dump(_clean(report), stream, indent=1)
    stream.write("\n")


CSV_FIELDS = ["model", "strategy", "ft_dataset", "eval_dataset", "seed", "accuracy", "n_images", "subset",
              "eval_images", "shared_source_fraction"]


def write_csv(report: dict, stream) -> None:
    """One row per stored evaluation, per training seed (`seed` is empty for the pretrained model); `eval_images`
    is the run's evaluation mode, repeated so that every row says what its images were, and
    `shared_source_fraction` the share of those images that render the fine-tuning set's source images (empty
    where none does)."""
    shared = {(p["ft_dataset"], p["eval_dataset"]): p["fraction"] for p in report.get("shared_sources", [])}
    writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in report["accuracies"]:
        out = {k: row.get(k) for k in CSV_FIELDS}
        out["eval_images"] = report.get("eval_images")
        out["shared_source_fraction"] = shared.get((row.get("ft_dataset"), row.get("eval_dataset")))
        writer.writerow(out)
