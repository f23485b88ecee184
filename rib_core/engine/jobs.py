"""The launcher contract: the plan grouped into jobs, and how any process runs one job.

A job is a few cells that belong together, with the jobs it must wait for and the resources it needs:
- the pre-evaluations of one model (one backbone load), shared by every strategy;
- a fine-tune with the evaluations of its weights (the weights stay in memory between them).
A fine-tune that starts from another's weights (lp-ft from lp) waits for that job.

A launcher (hook `register_launchers`) receives the jobs and a `Worker`: a small picklable description of the
run from which any process, on any node, rebuilds the same plan and runs a job's cells with `run_job`. A job
rebuilds the suite from the run manifest in the results directory (the suite as launched: `suite_table`), never
from the user's suite file, and refuses when that manifest is no longer the plan it was launched with, or when the
suite file (where the job can see it) now says something else: results must always match a suite someone can read.
Results go to the one store under the same keys, and every cell is taken under its lock
(rib_core/engine/shard.py), so any mix of launchers, resumes and re-runs computes each cell once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Environment a job needs to find the same data, cache and plugins as the process that planned it.
FORWARDED_ENV = ("RIB_DATA_ROOT", "RIB_CACHE_DIR", "RIB_LOAD_PLUGINS", "RIB_DISABLE_PLUGINS", "HF_HUB_OFFLINE",
                 "HF_HOME", "TORCH_HOME", "PYTHONPATH")


@dataclass
class Job:
    name: str
    keys: list[str]  # cells in execution order
    after: list[str] = field(default_factory=list)  # names of jobs that must finish first
    gpus: int = 0
    describe: str = ""
    work: int = 0  # image forwards and training steps, for launchers that size time limits


@dataclass
class Worker:
    """What a fresh process needs to rebuild the plan: picklable, no torch objects."""

    out: str  # the results directory (absolute)
    suite: str
    plan: str  # rib_core.engine.order.plan_digest of the launched manifest
    config: str | None  # the suite file the run was planned from (absolute), checked but never planned from
    device: str
    workers: int
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_run(cls, out, manifest: dict, *, device: str, workers: int) -> "Worker":
        from rib_core.engine.order import plan_digest

        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        env["RIB_CACHE_DIR"] = str(Path(env.get("RIB_CACHE_DIR") or _default_cache()).resolve())
        source = Path(manifest.get("source") or "")
        return cls(str(Path(out).resolve()), manifest["suite"], plan_digest(manifest),
                   str(source.resolve()) if source.is_file() else None, device, workers, env)


def _default_cache() -> Path:
    from rib_core.paths import cache_dir

    return cache_dir()


def plan_jobs(plan, gpus: int = 0) -> list[Job]:
    """Group the plan's cells into jobs (see the module's docstring); jobs come in a valid order."""
    jobs: list[Job] = []
    job_of: dict[str, Job] = {}
    pre: dict[str, Job] = {}
    for cell in plan:
        if cell.kind == "eval" and cell.finetune_key is None:
            job = pre.get(cell.model)
            if job is None:
                job = pre[cell.model] = Job(f"pre-{len(jobs) + 1:03d}", [], gpus=gpus,
                                            describe=f"pre-evaluations of {cell.model}")
                jobs.append(job)
        elif cell.kind == "finetune":
            job = Job(f"ft-{len(jobs) + 1:03d}", [], gpus=gpus, describe=cell.describe())
            jobs.append(job)
        else:
            job = job_of[cell.finetune_key]
        job.keys.append(cell.key)
        job.work += cell.work
        job_of[cell.key] = job
        for dep in cell.deps:
            owner = job_of.get(dep)
            if owner is not None and owner is not job and owner.name not in job.after:
                job.after.append(owner.name)
    return jobs


def launched_suite(worker: Worker, registry):
    """The suite as launched, from the run manifest; refuses (RibError) when the manifest or the suite file changed."""
    from rib_core.config import parse_suite, source_digest
    from rib_core.engine.order import plan_digest
    from rib_core.engine.store import Store
    from rib_core.errors import RibError

    store = Store(Path(worker.out))
    path = store.root / "runs" / f"{worker.suite}.json"
    manifest = store.read_manifest(path)
    if plan_digest(manifest) != worker.plan or "suite_table" not in manifest:
        raise RibError(f"the plan of suite '{worker.suite}' in {worker.out} changed after this job was launched (a "
                       "later 'rib bench' planned it anew); this job's cells belong to the old plan and are not run. "
                       "Run 'rib bench' again to launch the current plan.")
    if worker.config and Path(worker.config).is_file() and manifest.get("source_digest"):
        try:
            now = source_digest(Path(worker.config), worker.suite)
        except RibError as exc:
            now = f"unreadable: {exc}"
        if now != manifest["source_digest"]:
            raise RibError(f"suite '{worker.suite}' in {worker.config} was edited after this run was launched; its "
                           "results would no longer match the file, so this job does not run. Restore the file to "
                           "finish the launched plan, or run 'rib bench' again to plan and launch the edited suite.")
    return parse_suite(worker.suite, manifest["suite_table"], f"{path} (the suite as launched)", registry=registry)


def run_job(worker: Worker, keys: list[str]) -> dict:
    """Run one job's cells in this process (any node that sees the store); returns what was done.

    Cells already done are skipped, a cell another process holds is waited for, a fine-tune resumes from its
    epoch checkpoints. Raises only for what makes the whole job impossible (the plan or the suite changed, no
    device).
    """
    os.environ.update(worker.env)
    from rib_core.engine import distributed
    from rib_core.engine.device import select_device
    from rib_core.engine.plan import build_plan
    from rib_core.engine.prepare import prepare
    from rib_core.engine.runner import InOrder, Runner
    from rib_core.engine.shard import Sharded
    from rib_core.engine.store import Store
    from rib_core.errors import RibError
    from rib_core.plugins import get_registry

    registry = get_registry()
    prepared = prepare(launched_suite(worker, registry), registry)
    if prepared.problems:
        raise RibError("cannot run the job:\n- " + "\n- ".join(prepared.problems))
    plan = build_plan(prepared)
    by_key = {c.key: c for c in plan}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise RibError(f"{len(missing)} cell(s) of this job are not in the plan rebuilt from suite "
                       f"'{prepared.suite.name}' as launched: the installed plugins or the data changed since. Run "
                       "'rib bench' again to plan anew.")
    device = distributed.setup(worker.device) or select_device(worker.device)
    store = Store(Path(worker.out))
    runner = Runner(prepared, plan, store, device, workers=worker.workers)
    try:
        cells = [by_key[k] for k in keys]
        # Under torchrun (the launcher asked for several GPUs) every rank runs every cell together, so the ranks
        # agree on what is left (InOrder); a single process takes per-cell locks like a shard (Sharded).
        stats = runner.run(InOrder(cells) if distributed.active() else Sharded(store, cells=cells))
    finally:
        distributed.shutdown()
    return {"cells_run": stats.cells_run, "cells_reused": stats.cells_reused,
            "image_forwards": stats.image_forwards, "train_steps": stats.train_steps,
            "failed": [list(f) for f in stats.failed], "skipped": list(stats.skipped),
            "host": os.uname().nodename, "pid": os.getpid()}
