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


def write_csv(report: dict, stream) -> None:
    fields = ["model", "strategy", "ft_dataset", "eval_dataset", "accuracy", "n_images", "subset"]
    writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in report["accuracies"]:
        writer.writerow({k: row.get(k) for k in fields})
