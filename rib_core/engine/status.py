"""`rib status DIR`: done / in progress / failed / pending cells, across every suite and shard in DIR."""

from __future__ import annotations

import json

from rich.table import Table

from rib_core.engine.locks import CELL_LOCK
from rib_core.engine.store import Store
from rich.markup import escape

from rib_core.errors import UsageError


def cell_states(store: Store) -> list[dict]:
    rows = []
    seen = set()
    for run in store.runs():
        for cell in run["cells"]:
            if cell["key"] in seen:
                continue
            seen.add(cell["key"])
            state, detail = "pending", ""
            if store.is_done(cell["key"]):
                state = "done"
            else:
                lock = store.cell_dir(cell["key"]) / CELL_LOCK
                failure = store.failure(cell["key"])
                if lock.exists():
                    try:
                        holder = json.loads(lock.read_text())
                        state = "in progress"
                        detail = f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
                    except (OSError, ValueError):
                        pass
                elif failure:
                    state, detail = "failed", failure.get("error", "")
            rows.append({"suite": run["suite"], "key": cell["key"], "cell": _describe(cell), "state": state,
                         "detail": detail})
    return rows


def _describe(cell: dict) -> str:
    if cell["kind"] == "finetune":
        return f"fine-tune {cell['model']} / {cell['strategy']} on {cell['ft_dataset']}"
    who = cell["model"] if cell["strategy"] is None else f"{cell['model']} / {cell['strategy']} ft {cell['ft_dataset']}"
    return f"evaluate {who} on {cell['eval_dataset']}"


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
    counts = {s: sum(r["state"] == s for r in rows) for s in ("done", "in progress", "failed", "pending")}
    jobs = launched_jobs(store)
    if as_json:
        print(json.dumps({"counts": counts, "cells": rows, "jobs": jobs}, indent=1))
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
    interesting = [r for r in rows if r["state"] in ("in progress", "failed")]
    if interesting:
        table = Table(show_edge=False)
        for col in ("state", "cell", "detail"):
            table.add_column(col, overflow="fold")
        for r in interesting:
            table.add_row(escape(r["state"]), escape(r["cell"]), escape(r["detail"]))  # "[training]" is not markup
        console.print(table)
    return 0
