"""Executes a plan cell by cell, skipping what the store already holds, writing each result the moment it exists.

A failing cell is recorded with its error and the run goes on with every cell that does not depend on it.
Ctrl-C stops after the cell in flight is abandoned (its fine-tune checkpoints stay, so it resumes later).
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
import traceback
from dataclasses import dataclass, field

import torch

import rib_core
from rib_core.disk import disk_full
from rib_core.engine import cells, distributed
from rib_core.engine.prepared import Cell, Prepared
from rib_core.engine.resources import Resources
from rib_core.engine.store import Store
from rib_core.errors import RibError


@dataclass
class RunStats:
    image_forwards: int = 0
    train_steps: int = 0
    cells_run: int = 0
    cells_reused: int = 0
    failed: list = field(default_factory=list)  # (cell description, error)
    skipped: list = field(default_factory=list)  # cells not run because a dependency failed


def versions(prepared: Prepared) -> dict:
    out = {"rib": rib_core.__version__, "torch": torch.__version__, "python": platform.python_version()}
    try:  # from its metadata: importing timm (and torchvision) costs seconds a run of non-timm models never needs
        out["timm"] = importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:
        pass
    for info in prepared.registry.plugins.values():
        if not info.builtin and info.version:
            out[info.name] = info.version
    return out


class InOrder:
    """The default scheduler: the given cells (default: the whole plan) in plan order. Under torchrun every rank
    runs every cell together, so the ranks take rank 0's view of what is left instead of each taking locks."""

    def __init__(self, cells: list | None = None):
        self.cells = cells

    def cells_of(self, plan: list) -> list:
        return plan if self.cells is None else list(self.cells)

    def execute(self, pending: list, run_one, failed: set[str]) -> None:
        for cell in distributed.broadcast(pending):
            run_one(cell)


class Runner:
    def __init__(self, prepared: Prepared, plan: list[Cell], store: Store, device: torch.device,
                 progress=None, workers: int = 0):
        self.prepared, self.plan, self.store, self.device = prepared, plan, store, device
        self.progress = progress
        self.workers = workers
        self.stats = RunStats()
        self.resources = Resources(prepared, device, workers)
        self._versions = versions(prepared)
        self.by_key = {c.key: c for c in plan}
        self.failed_keys: set[str] = set()

    # -- running -----------------------------------------------------------------------------------------
    def run(self, scheduler=None) -> RunStats:
        """Run the cells `scheduler` picks from the plan, in the order it runs them (default: `InOrder()`, every
        cell in plan order). A scheduler has `cells_of(plan)`, the cells this process answers for, and
        `execute(pending, run_one, failed)`, which calls `run_one(cell)` for each pending cell once its
        dependencies are done; a dependency it gives up on goes into `failed` (its dependants are then skipped).
        Sharding (rib_core.engine.shard.Sharded) is such a scheduler."""
        scheduler = scheduler or InOrder()
        if self.device.type == "cpu" and self.prepared.suite.cpu_threads:
            torch.set_num_threads(self.prepared.suite.cpu_threads)
        distributed.barrier()
        mine = scheduler.cells_of(self.plan)
        pending = [c for c in mine if not self.store.is_done(c.key)]
        self.stats.cells_reused = len(mine) - len(pending)
        if self.progress:
            self.progress.start(len(mine), self.stats.cells_reused)
        scheduler.execute(pending, self.run_one, self.failed_keys)
        return self.stats

    def run_one(self, cell: Cell) -> bool:
        """Run one cell (its dependencies must be done); record a failure instead of raising. True if it worked."""
        if any(dep in self.failed_keys for dep in cell.deps):
            self.failed_keys.add(cell.key)
            self.stats.skipped.append(cell.describe())
            if self.progress:
                self.progress.cell_done(cell, ok=False)
            return False
        started = time.perf_counter()
        if self.progress:
            self.progress.cell_started(cell)
        error = None
        try:
            if cell.kind == "finetune":
                self.run_finetune(cell)
            else:
                self.run_eval(cell)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            full = disk_full(exc)  # from any writer, rib's or a plugin's, whichever library raised it
            if full is exc:
                raise  # every further cell would fail at its write too: stop, keep what is stored
            if full is not None:
                raise full from exc
            error = (self._describe_error(exc), traceback.format_exc())
        errors = [e for e in distributed.gather(error) if e is not None]  # every rank learns of any failure
        if errors:
            self.failed_keys.add(cell.key)
            self.stats.failed.append((cell.describe(), errors[0][0]))
            if distributed.is_main():
                self.store.write_failure(cell.key, {"cell": cell.as_dict(), "error": errors[0][0],
                                                    "traceback": errors[0][1]})
            if self.progress:
                self.progress.cell_done(cell, ok=False)
            return False
        self.stats.cells_run += 1
        if self.progress:
            self.progress.cell_done(cell, ok=True, seconds=time.perf_counter() - started)
        return True

    def _describe_error(self, exc: Exception) -> str:
        """The error's message, naming the plugin whose code raised it (innermost frame in a plugin's package)."""
        if isinstance(exc, RibError):
            return str(exc)
        message = f"{type(exc).__name__}: {exc}"
        packages = {}
        registry = self.prepared.registry
        for registrations in registry.entries.values():
            for reg in registrations.values():
                info = registry.plugins.get(reg.plugin)
                if info is not None and not info.builtin:
                    module = reg.target.split(":")[0]
                    # A plugin's own package; for one that lives inside rib_core (its testing kit's toy plugin),
                    # only its module, so that rib's own frames are never blamed on it.
                    top = module.split(".")[0]
                    packages[module if top == "rib_core" else top] = reg.plugin
        tb = exc.__traceback__
        modules = []
        while tb is not None:
            modules.append(tb.tb_frame.f_globals.get("__name__", ""))
            tb = tb.tb_next
        for module in reversed(modules):
            plugin = packages.get(module.split(".")[0]) or packages.get(module)
            if plugin:
                return f"plugin '{plugin}' failed: {message}"
        return message

    def run_eval(self, cell: Cell) -> None:
        cells.run_eval(self, cell)

    def run_finetune(self, cell: Cell) -> None:
        cells.run_finetune(self, cell)

    def base_record(self, cell: Cell) -> dict:
        return {"cell": cell.as_dict(), "versions": self._versions, "device": str(self.device),
                "suite": self.prepared.suite.name}
