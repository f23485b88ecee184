"""Grid sharding: N independent jobs (a SLURM array, or plain processes) cover one suite over a shared store.

`--shard I/N` gives job I a deterministic, cost-balanced part of the grid. A fine-tune and the evaluations of
its weights stay in one shard (the weights are then read from local memory); pre-evaluations are spread like
any other cell. Jobs coordinate only through the store: before running a cell a job creates
`cells/<key>/lock.json` exclusively (O_EXCL), refreshes it while working, and removes it when done. A lock
whose holder died (same host: the pid is gone; any host: no refresh for RIB_LOCK_TTL seconds) is taken over.
A job that finds a cell locked moves on and comes back to it, so every cell is computed exactly once.
"""

from __future__ import annotations

import re
import time

from rib_core.engine.locks import CELL_LOCK, CellLock
from rib_core.env import env_number
from rib_core.errors import UsageError


def parse_shard(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise UsageError(f"--shard expects I/N with 1 <= I <= N (e.g. --shard 2/8), got '{text}'.")
    return int(found.group(1)), int(found.group(2))


def units(plan) -> list[list]:
    """Cells that belong together: a fine-tune with the evaluations of its weights; every other cell alone."""
    by_ft: dict[str, list] = {}
    out = []
    for cell in plan:
        if cell.kind == "finetune":
            group = [cell]
            by_ft[cell.key] = group
            out.append(group)
    for cell in plan:
        if cell.kind == "eval":
            if cell.finetune_key in by_ft:
                by_ft[cell.finetune_key].append(cell)
            else:
                out.append([cell])
    return out


def cost(unit) -> float:
    # A training step costs about three image forwards per image of its batch; the batch is folded into work
    # only approximately (steps), which is enough to balance shards.
    return sum(c.work * (3 * 64 if c.kind == "finetune" else 1) for c in unit) + 1


def select_shard(plan, index: int, count: int) -> list:
    """Greedy longest-processing-time assignment of units to `count` shards; returns shard `index`'s cells."""
    loads = [0.0] * count
    chosen: set[str] = set()
    for unit in sorted(units(plan), key=lambda u: (-cost(u), u[0].key)):
        target = min(range(count), key=lambda k: (loads[k], k))
        loads[target] += cost(unit)
        if target == index - 1:
            chosen.update(c.key for c in unit)
    return [c for c in plan if c.key in chosen]


class Sharded:
    """A scheduler (see rib_core.engine.runner.Runner.run) for one shard's cells, or one launcher job's, taking a
    per-cell lock in the shared store before each cell; dependencies owned by another shard are waited for.

    Given `cells` instead of a shard (a launcher's job), dependencies outside them must already be done: the
    launcher ran their jobs first, so one that is missing has failed.
    """

    def __init__(self, store, shard: tuple[int, int] | None = None, cells: list | None = None):
        self.store, self.shard, self.cells = store, shard, cells
        self.wait_for_others = cells is None
        self.poll_s = env_number("RIB_SHARD_POLL", 2.0, minimum=0.01, what="seconds between looks at cells that "
                                 "other shards hold")

    def cells_of(self, plan: list) -> list:
        return select_shard(plan, *self.shard) if self.cells is None else list(self.cells)

    def dependencies(self, cell, pending_keys: set[str], failed: set[str]) -> str:
        """"ready", "wait" (another job or a later cell of ours will produce it) or "failed"."""
        store = self.store
        for dep in cell.deps:
            if store.is_done(dep):
                continue
            if dep in failed:
                return "failed"
            locked = (store.cell_dir(dep) / CELL_LOCK).exists()
            if dep not in pending_keys and not self.wait_for_others and not locked:
                failed.add(dep)
                return "failed"
            if dep not in pending_keys and store.failure(dep) is not None and not locked:
                failed.add(dep)  # its owner tried and gave up: our dependants fail fast instead of waiting
                return "failed"
            return "wait"
        return "ready"

    def execute(self, pending: list, run_one, failed: set[str]) -> None:
        store, pending = self.store, list(pending)
        while pending:
            progressed = False
            for cell in list(pending):
                # "failed" falls through to run_one, which records the cell as skipped for its dependency.
                if self.dependencies(cell, {c.key for c in pending}, failed) == "wait":
                    continue
                lock = CellLock(store.cell_dir(cell.key))
                if not store.is_done(cell.key):
                    if not lock.acquire():
                        continue  # another job has it: come back later
                    try:
                        if not store.is_done(cell.key):
                            run_one(cell)
                    finally:
                        lock.release()
                pending.remove(cell)
                progressed = True
            if pending and not progressed:
                time.sleep(self.poll_s)
