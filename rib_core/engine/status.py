"""`rib status DIR`: every cell's state (rib_core/engine/cell_states.py), across every suite and shard in DIR."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from rib_core.engine.cell_states import STATES, cell_statuses
from rib_core.engine.store import Store
from rib_core.errors import UsageError


def cell_states(store: Store) -> list[dict]:
    rows = []
    seen = set()
    for run in store.runs():
        for status in cell_statuses(store, run["cells"]):
            if status.key in seen:
                continue
            seen.add(status.key)
            rows.append({"suite": run["suite"], **status.as_dict()})
    return rows


def launched_jobs(store: Store) -> list[dict]:
    """The jobs a launcher plugin last ran per suite (launch/<suite>.json), as rib last saw them."""
    out = []
    for path in sorted((store.root / "launch").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out.extend(dict(job, suite=data["suite"]) for job in data.get("jobs", []))
    return out


def print_status(root, console, as_json: bool = False) -> int:
    store = Store(root)
    if not (store.root / "runs").is_dir():
        raise UsageError(f"'{root}' holds no rib runs. Pass the --out directory of a 'rib bench' run.")
    rows = cell_states(store)
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    jobs = launched_jobs(store)
    superseded = [dict(p, suite=run["suite"]) for run in store.runs()
                  for p in store.superseded(run["suite"], {c["key"] for c in run["cells"]})]
    if as_json:
        print(json.dumps({"counts": counts, "cells": rows, "jobs": jobs, "superseded": superseded}, indent=1))
        return 0
    console.print(", ".join(f"{v} {k}" for k, v in counts.items()))
    if jobs:
        table = Table(show_edge=False, title="jobs of the last launcher run (rib bench --launcher)")
        for col in ("suite", "job", "state", "scheduler id", "attempts", "cells", "what"):
            table.add_column(col, overflow="fold")
        for j in jobs:
            state = j["state"] + (f" ({j['scheduler_state']})" if j.get("scheduler_state") and j["state"] ==
                                  "submitted" else "")
            table.add_row(j["suite"], j["job"], state, j["id"], str(j["attempts"]), str(j["cells"]), j["describe"])
        console.print(table)
    interesting = [r for r in rows if r["state"] in ("in progress", "failed", "not run")]
    if interesting:
        table = Table(show_edge=False)
        for col in ("state", "cell", "detail"):
            table.add_column(col, overflow="fold")
        for r in interesting:
            table.add_row(escape(r["state"]), escape(r["cell"]), escape(r["detail"]))  # "[training]" is not markup
        console.print(table)
        if counts["failed"]:
            console.print(f"Tracebacks: {escape(str(store.root))}/cells/<key>/failed.json (key: rib status "
                          f"{escape(str(store.root))} --json).", soft_wrap=True, highlight=False)
    for p in superseded:
        console.print(f"{p['cells']} finished cell(s) of an earlier plan of suite '{escape(p['suite'])}' are kept "
                      f"but not in its current plan: rib report {escape(str(store.root))} --suite "
                      f"{escape(p['suite'])} --plan {escape(p['file'])}", soft_wrap=True, highlight=False)
    return 0
