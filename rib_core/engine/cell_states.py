"""The state of every cell of a plan, read from the store: the part of the run model `rib status` and the report
share (rib_core/engine/results.py).

States:
- done         its record is complete and every file it names is intact (for a fine-tune: present; its weights
               are hashed when a run uses them, not by every report);
- failed       it ran and raised; `detail` is its error's first line (the traceback: cells/<key>/failed.json);
- not run      a cell it depends on failed (or was not run), so it could not start; `detail` names that cell;
- in progress  another process holds its lock (`detail`: which process, since when);
- pending      none of the above: the next `rib bench` runs it.
Only "pending" cells are what running the same command again finishes; failed ones are retried, but a failure
that comes from the suite (a diverging learning rate, a missing file) fails again until the cause is fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rib_core.engine.locks import CELL_LOCK

STATES = ("done", "failed", "not run", "in progress", "pending")


@dataclass(frozen=True)
class CellStatus:
    key: str
    kind: str  # "eval" | "finetune"
    what: str  # "fine-tune demo/broad / ft on demo-photo", "evaluate ... on ..."
    state: str  # one of STATES
    detail: str = ""
    seed: int | None = None
    reported: bool = True  # False: a stage that exists only as a dependency (lp of lp-ft)
    cell: dict = field(default_factory=dict, repr=False, compare=False)  # the plan's entry
    record: dict | None = field(default=None, repr=False, compare=False)  # a done cell's record

    def as_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "cell": self.what, "state": self.state, "detail": self.detail,
                "seed": self.seed}


def describe(cell: dict) -> str:
    if cell["kind"] == "finetune":
        who = f"{cell['model']} / {cell['strategy']}"
        seed = f" (seed {cell['seed']})" if cell.get("seed") not in (None, 0) else ""
        return f"fine-tune {who} on {cell['ft_dataset']}{seed}"
    who = cell["model"] if cell["strategy"] is None else f"{cell['model']} / {cell['strategy']} ft {cell['ft_dataset']}"
    seed = f" (seed {cell['seed']})" if cell.get("seed") not in (None, 0) else ""
    return f"evaluate {who} on {cell['eval_dataset']}{seed}"


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def cell_statuses(store, cells: list[dict]) -> list[CellStatus]:
    """One status per cell of `cells` (a run manifest's, dependencies before dependants)."""
    states: dict[str, CellStatus] = {}
    out = []
    for cell in cells:
        key = cell["key"]
        if key in states:  # a cell shared by two runs' manifests: one state
            out.append(states[key])
            continue
        record = store.record(key, verify_files=cell["kind"] == "eval")
        state, detail = "pending", ""
        if record is not None:
            state = "done"
        else:
            blocked = [states[d] for d in cell.get("deps", ()) if d in states and states[d].state in ("failed", "not run")]
            holder = _lock_holder(store, key)
            failure = store.failure(key)
            if holder is not None:
                state, detail = "in progress", holder
            elif blocked:
                reason = blocked[0]
                state = "not run"
                detail = (f"{reason.what} failed" if reason.state == "failed" else
                          f"{reason.what} was not run ({reason.detail})")
            elif failure:
                state, detail = "failed", first_line(failure.get("error", "")) or "failed (no message)"
        status = CellStatus(key, cell["kind"], describe(cell), state, detail, cell.get("seed"),
                            cell.get("reported", True), cell, record)
        states[key] = status
        out.append(status)
    return out


def _lock_holder(store, key: str) -> str | None:
    lock = store.cell_dir(key) / CELL_LOCK
    if not lock.exists():
        return None
    try:
        holder = json.loads(lock.read_text())
        return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
    except (OSError, ValueError, AttributeError):
        return None
