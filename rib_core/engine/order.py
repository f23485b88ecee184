"""The execution order of a plan's cells, and the manifest that records them for `rib report`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rib_core.engine.prepared import Cell, Prepared


def order_cells(cells: list[Cell]) -> list[Cell]:
    """Group work per model (one backbone load), pre-evaluations first, each fine-tune followed by its evals."""
    by_key = {c.key: c for c in cells}
    ordered: list[Cell] = []
    seen: set[str] = set()

    def visit(cell: Cell):
        if cell.key in seen:
            return
        for dep in cell.deps:
            if dep in by_key:
                visit(by_key[dep])
        seen.add(cell.key)
        ordered.append(cell)

    for cell in cells:
        if cell.kind == "eval" and cell.strategy is None:
            visit(cell)
    for cell in cells:
        if cell.kind == "finetune":
            visit(cell)
            for other in cells:
                if other.finetune_key == cell.key:
                    visit(other)
    for cell in cells:
        visit(cell)
    return ordered


def run_manifest(prepared: Prepared, plan: list[Cell]) -> dict:
    """What `rib report` needs to rebuild the tables (which keys, and what they mean), and the suite as run, from
    which launcher jobs rebuild the same plan (rib_core/engine/jobs.py)."""
    from rib_core.config import suite_table
    from rib_core.data.source_overlap import source_overlap

    return {
        "suite": prepared.suite.name,
        "source": prepared.suite.source,
        "suite_table": suite_table(prepared.suite),
        "source_digest": prepared.suite.source_digest,
        "eval_images": prepared.suite.eval_images,
        # How much of what is evaluated renders what was fine-tuned on (datasets sharing source images).
        "source_overlap": source_overlap(prepared),
        "datasets": [d.label for d in prepared.datasets],
        "reference": prepared.reference.label if prepared.reference else None,
        "models": [m.label for m in prepared.models],
        "seeds": prepared.suite.training_seeds,
        "strategies": [_variant_label(s.label, v) for s in prepared.strategies for v in s.strategy.variant_labels()],
        "cells": [c.as_dict() for c in plan],
        # What each label stood for: a report names models and datasets by label, these say which exactly.
        "fingerprints": {
            "models": {m.label: {"name": m.spec.name, "fingerprint": m.fingerprint, "weights": m.spec.weights}
                       for m in prepared.models},
            "datasets": {d.label: {"adapter": d.spec.adapter, "fingerprint": d.fingerprint,
                                   "images": len(d.samples), "root": str(getattr(d.adapter, "root", None) or "")}
                         for d in prepared.datasets + ([prepared.reference] if prepared.reference else [])},
        },
    }


def plan_digest(manifest: dict) -> str:
    """What identifies a launched plan: the suite as run and its cells' keys."""
    from rib_core.engine.prepared import digest

    return digest({"suite": manifest.get("suite_table"), "cells": [c["key"] for c in manifest["cells"]]})


def _variant_label(strategy_label: str, variant: str) -> str:
    from rib_core.engine.prepared import variant_label

    return variant_label(strategy_label, variant)
