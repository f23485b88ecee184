"""Handing the grid's jobs to a scheduler (SLURM through submitit, Ray, ...) and following them to the end.

A launcher plugin subclasses `Launcher` and registers it with the `register_launchers` hook. rib plans the jobs
(rib_core/engine/jobs.py), submits each one once the jobs it waits for are done, retries a job whose process
died (node failure, kill, preemption the scheduler did not requeue itself) up to `--max-retries` times, and
writes the jobs' states to `launch/<suite>.json` for `rib status`. A retried job skips its finished cells and
resumes its fine-tune from the last epoch checkpoint.

The built-in `local` launcher is rib's own runner in this process (torchrun and `--shard` included).
"""

from __future__ import annotations

import time

from rib_core.engine.jobs import Job, Worker, plan_jobs, run_job
from rib_core.engine.store import atomic_write_json

POLL_SECONDS = 0.5


class Launcher:
    """What a launcher does. rib calls `submit` for each ready job and polls `finished`/`result`.

    - `add_arguments(group)` (static, optional, registered as the `arguments` extra): the launcher's own
      `rib bench` options; must not import the scheduler's package (it runs for `rib --help`).
    - `__init__(options)`: the parsed `rib bench` arguments (with `gpus_per_job`, `max_retries` and the
      launcher's own).
    - `submit(job, worker)`: start `run_job(worker, job.keys)` somewhere; return a handle.
    - `finished(handle)`: True once the job ended, whether it worked or not.
    - `result(handle)`: `run_job`'s summary dict; raise any exception if the job died.
    - `job_id(handle)` and `state(handle)`: the scheduler's id and state, for `rib status`.
    - `close()`: release what `__init__` took (a Ray connection).
    """

    in_process = False

    def __init__(self, options):
        self.options = options

    def submit(self, job: Job, worker: Worker):
        raise NotImplementedError

    def finished(self, handle) -> bool:
        raise NotImplementedError

    def result(self, handle) -> dict:
        raise NotImplementedError

    def job_id(self, handle) -> str:
        return ""

    def state(self, handle) -> str:
        return "submitted"

    def close(self) -> None:
        pass


class LocalLauncher(Launcher):
    """rib's own runner in this process: the default, and what `--shard I/N` and torchrun use."""

    in_process = True


def launch(launcher: Launcher, plan, store, suite_name: str, worker: Worker, stats, gpus: int = 0,
           max_retries: int = 2, console=None):
    """Run `plan` through `launcher`; fills and returns `stats` (rib_core.engine.runner.RunStats)."""
    jobs = plan_jobs(plan, gpus)
    states = {job.name: {"job": job.name, "describe": job.describe, "cells": len(job.keys), "after": job.after,
                         "state": "pending", "attempts": 0, "id": "", "error": ""} for job in jobs}
    done_before = {c.key for c in plan if store.is_done(c.key)}
    stats.cells_reused = len(done_before)
    for job in jobs:
        if all(k in done_before for k in job.keys):
            states[job.name]["state"] = "done"
    handles: dict[str, object] = {}
    status_file = store.root / "launch" / f"{suite_name}.json"

    def save():
        atomic_write_json(status_file, {"suite": suite_name, "launcher": type(launcher).__name__,
                                        "jobs": list(states.values())})

    def say(text):
        if console is not None:
            console.print(text, highlight=False)

    def submit(job):
        handle = launcher.submit(job, worker)
        handles[job.name] = handle
        states[job.name].update(state="submitted", id=launcher.job_id(handle))
        states[job.name]["attempts"] += 1

    try:
        save()
        while True:
            changed = False
            for job in jobs:
                entry = states[job.name]
                if entry["state"] == "pending":
                    waits = [states[a]["state"] for a in job.after]
                    if any(w in ("failed", "skipped") for w in waits):
                        entry["state"], changed = "skipped", True
                        stats.skipped.extend(job.keys)
                    elif all(w == "done" for w in waits):
                        submit(job)
                        changed = True
                elif entry["state"] == "submitted":
                    handle = handles[job.name]
                    if not launcher.finished(handle):
                        new_state = launcher.state(handle)
                        if new_state != entry.get("scheduler_state"):
                            entry["scheduler_state"], changed = new_state, True
                        continue
                    changed = True
                    try:
                        summary = launcher.result(handle)
                    except Exception as exc:  # the job's process died: run it again, it resumes
                        entry["error"] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[-1]}"
                        if entry["attempts"] <= max_retries:
                            say(f"job {job.name} ({job.describe}) ended without finishing: {entry['error']}; "
                                f"requeued (attempt {entry['attempts'] + 1} of {max_retries + 1})")
                            submit(job)
                        else:
                            entry["state"] = "failed"
                            stats.failed.append((f"job {job.name} ({job.describe})", entry["error"]))
                        continue
                    entry["state"] = "done"
                    for name in ("cells_run", "image_forwards", "train_steps"):
                        setattr(stats, name, getattr(stats, name) + summary.get(name, 0))
                    stats.failed.extend(tuple(f) for f in summary.get("failed", []))
                    stats.skipped.extend(summary.get("skipped", []))
            if changed:
                save()
            if all(s["state"] in ("done", "failed", "skipped") for s in states.values()):
                return stats
            time.sleep(POLL_SECONDS)
    finally:
        launcher.close()


__all__ = ["Job", "Launcher", "LocalLauncher", "Worker", "launch", "plan_jobs", "run_job"]
