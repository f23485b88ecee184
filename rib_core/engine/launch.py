"""Handing the grid's jobs to a scheduler (SLURM through submitit, Ray, ...) and following them to the end.

A launcher plugin subclasses `Launcher` and registers it with the `register_launchers` hook. rib plans the jobs
(rib_core/engine/jobs.py), submits each one once the jobs it waits for are done, retries a job whose process
died (node failure, kill, preemption the scheduler did not requeue itself) up to `--max-retries` times, and
writes the jobs' states to `launch/<suite>.json` for `rib status`. A retried job skips its finished cells and
resumes its fine-tune from the last epoch checkpoint.

The built-in `local` launcher is rib's own runner in this process (torchrun and `--shard` included).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

from rib_core.engine.jobs import Job, Worker, plan_jobs, run_job
from rib_core.engine.store import atomic_write_json
from rib_core.errors import RibError, UsageError

POLL_SECONDS = 0.5
# A job that shows no sign of starting for this long gets a line saying why it waits (then at 2x, 4x, ...).
WAIT_REPORT_ENV = "RIB_WAIT_REPORT"
WAIT_REPORT_SECONDS = 120.0
# After a signal: how long rib waits for the jobs it cancelled to end before it exits.
CANCEL_WAIT_SECONDS = 20.0


# -- what each job asks for: one decision, for every launcher ------------------------------------------------
@dataclass(frozen=True)
class JobResources:
    """What each job asks its scheduler for, and the device its process runs on (`--device` of the job)."""

    gpus: int
    cpus: int
    device: str

    def describe(self) -> str:
        return f"{_plural(self.gpus, 'GPU')} and {_plural(self.cpus, 'CPU')}"


def job_resources(device: str, gpus_per_job: int | None, cpus_per_job: int | None, *,
                  gpus_available: int | None, default_cpus: int = 1) -> JobResources:
    """The resources of every job, from `--device`, `--gpus-per-job`, `--cpus-per-job` and what the cluster has.

    `gpus_available`: the GPUs where the jobs will run (a Ray cluster's total, this machine's for local
    subprocesses), or None when the launcher cannot know (a SLURM partition). `--device auto` then means one GPU
    per job where there are GPUs (or where it cannot be known) and none where there are none: a CPU-only
    machine never gets a job that waits for a GPU. The jobs run on "cpu" when they get no GPU.
    """
    for flag, value, least in (("--gpus-per-job", gpus_per_job, 0), ("--cpus-per-job", cpus_per_job, 1)):
        if value is not None and value < least:
            raise UsageError(f"{flag} takes a number >= {least}, got {value}.")
    device = device or "auto"
    kind = device.split(":")[0]
    if kind in ("cpu", "mps"):
        if gpus_per_job:
            raise UsageError(f"--device {device} with --gpus-per-job {gpus_per_job}: the jobs would hold GPUs they "
                             "never use. Drop --gpus-per-job, or use --device cuda (or auto).")
        gpus = 0
    elif kind == "cuda":
        if gpus_per_job == 0:
            raise UsageError(f"--device {device} with --gpus-per-job 0: the jobs would get no GPU to run on. "
                             "Use --gpus-per-job 1 (or more), or --device cpu.")
        gpus = 1 if gpus_per_job is None else gpus_per_job
    elif gpus_per_job is not None:
        gpus = gpus_per_job
    else:  # auto
        gpus = 0 if gpus_available == 0 else 1
    if device == "auto" and gpus == 0:
        device = "cpu"
    return JobResources(gpus=gpus, cpus=cpus_per_job or default_cpus, device=device)


def local_gpus() -> int:
    """CUDA GPUs this machine has (0 without torch's CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def unschedulable(resources: JobResources, nodes: list[dict], where: str) -> str | None:
    """Why no job could ever start on `nodes` ({"GPU": n, "CPU": n} each) of `where` ("this machine"), naming
    the flag to change; None if some node can hold a job."""
    if any(n.get("GPU", 0) >= resources.gpus and n.get("CPU", 0) >= resources.cpus for n in nodes):
        return None
    most_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    most_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    fixes = []
    if resources.gpus > most_gpus:
        fixes.append(f"--gpus-per-job {int(most_gpus)}" + (" (or --device cpu)" if not most_gpus else ""))
    if resources.cpus > most_cpus:
        fixes.append(f"--cpus-per-job {int(most_cpus)}")
    has = f"{_plural(most_gpus, 'GPU')} and {_plural(most_cpus, 'CPU')}"
    has = f"its largest node has {has}" if len(nodes) > 1 else f"it has {has}"
    return (f"each job asks for {resources.describe()}, but {where} can never hold one ({has}). Set "
            f"{' and '.join(fixes or ['--gpus-per-job and --cpus-per-job'])}.")


def _plural(n: float, what: str) -> str:
    n = int(n) if float(n).is_integer() else n
    return f"{n} {what}" + ("" if n == 1 else "s")


# -- the contract ------------------------------------------------------------------------------------------
class Launcher:
    """What a launcher does. rib calls `submit` for each ready job and polls `finished`/`result`.

    - `add_arguments(group)` (static, optional, registered as the `arguments` extra): the launcher's own
      `rib bench` options; must not import the scheduler's package (it runs for `rib --help`).
    - `__init__(options)`: the parsed `rib bench` arguments (with `device`, `gpus_per_job`, `cpus_per_job`,
      `max_retries` and the launcher's own). It connects to the scheduler and calls
      `self.decide_resources(gpus_available)` once it knows how many GPUs the jobs' machines have, and raises
      `UsageError` for what can never work (no SLURM; a job no node can hold: `self.unschedulable(nodes, where)`
      says so, naming the flag to change). Nothing is written before it returns.
    - `submit(job, worker)`: start `run_job(worker, job.keys)` somewhere; return a handle.
    - `finished(handle)`: True once the job ended, whether it worked or not.
    - `result(handle)`: `run_job`'s summary dict; raise any exception if the job died.
    - `job_id(handle)` and `state(handle)`: the scheduler's id and state, for `rib status`.
    - `waiting_reason(handle)`: why a job that has not started waits (printed when it waits long), or None.
    - `cancel(handle)`: stop the job (rib was interrupted or terminated; a later run resumes its cells).
    - `close()`: release what `__init__` took (a Ray connection).
    """

    in_process = False

    def __init__(self, options):
        self.options = options
        self.resources: JobResources | None = None

    def decide_resources(self, gpus_available: int | None, default_cpus: int = 1) -> JobResources:
        """Set and return `self.resources` from the options (rib_core.engine.launch.job_resources)."""
        options = self.options
        self.resources = job_resources(getattr(options, "device", "auto"), getattr(options, "gpus_per_job", None),
                                       getattr(options, "cpus_per_job", None), gpus_available=gpus_available,
                                       default_cpus=default_cpus)
        return self.resources

    def unschedulable(self, nodes: list[dict], where: str) -> str | None:
        """Why no node of `nodes` ({"GPU": n, "CPU": n} each) can hold a job of `self.resources`, or None."""
        return unschedulable(self.resources, nodes, where)

    @staticmethod
    def this_machine() -> dict:
        """This machine as a node: {"GPU": CUDA GPUs, "CPU": cores}."""
        return {"GPU": local_gpus(), "CPU": os.cpu_count() or 1}

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

    def waiting_reason(self, handle) -> str | None:
        return None

    def cancel(self, handle) -> None:
        pass

    def close(self) -> None:
        pass


class LocalLauncher(Launcher):
    """rib's own runner in this process: the default, and what `--shard I/N` and torchrun use."""

    in_process = True


# -- following the jobs ------------------------------------------------------------------------------------
class WaitWatch:
    """Jobs submitted but not started: after `patience` seconds without a sign of life (a cell of the job locked
    or done, a new scheduler state), one line says which jobs wait and why; again after 2x, 4x... as long."""

    def __init__(self, store, patience: float, clock=time.monotonic):
        self.store, self.patience, self.clock = store, patience, clock
        self.since: dict[str, float] = {}
        self.next_report: dict[str, float] = {}
        self.started: set[str] = set()
        self._checked: dict[str, float] = {}

    def submitted(self, job: Job) -> None:
        now = self.clock()
        self.since[job.name] = now
        self.next_report[job.name] = now + self.patience
        self.started.discard(job.name)

    def progressed(self, job: Job) -> None:
        """A new scheduler state: the wait starts again."""
        self.submitted(job)

    def _has_started(self, job: Job) -> bool:
        if job.name in self.started:
            return True
        for key in job.keys:
            if self.store.is_done(key) or (self.store.cell_dir(key) / "lock.json").exists():
                self.started.add(job.name)
                return True
        return False

    def due(self, jobs: list[Job]) -> list[tuple[Job, float]]:
        """The jobs whose report is due now, with how long they have waited."""
        now, due = self.clock(), []
        for job in jobs:
            if job.name not in self.since or now < self.next_report[job.name] or self._has_started(job):
                continue
            waited = now - self.since[job.name]
            self.next_report[job.name] = self.since[job.name] + 2 * waited
            due.append((job, waited))
        return due


def _wait_patience() -> float:
    value = os.environ.get(WAIT_REPORT_ENV, "")
    try:
        return float(value) if value else WAIT_REPORT_SECONDS
    except ValueError:
        raise UsageError(f"{WAIT_REPORT_ENV}={value!r}: give the seconds a job may wait before rib says why "
                         f"(default {WAIT_REPORT_SECONDS:g}).") from None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def launch(launcher: Launcher, plan, store, suite_name: str, worker: Worker, stats, max_retries: int = 2,
           console=None):
    """Run `plan` through `launcher`; fills and returns `stats` (rib_core.engine.runner.RunStats).

    Each job asks for `launcher.resources` (decided in the launcher's __init__; this machine's GPUs decide
    `--device auto` for a launcher that did not). Interrupted or terminated, rib cancels the jobs still queued
    or running and says so before it stops; running the same command again resumes them.
    """
    resources = launcher.resources or launcher.decide_resources(local_gpus())
    worker = replace(worker, device=resources.device)
    jobs = plan_jobs(plan, resources.gpus)
    states = {job.name: {"job": job.name, "describe": job.describe, "cells": len(job.keys), "after": job.after,
                         "state": "pending", "attempts": 0, "id": "", "error": ""} for job in jobs}
    done_before = {c.key for c in plan if store.is_done(c.key)}
    stats.cells_reused = len(done_before)
    for job in jobs:
        if all(k in done_before for k in job.keys):
            states[job.name]["state"] = "done"
    handles: dict[str, object] = {}
    status_file = store.root / "launch" / f"{suite_name}.json"
    watch = WaitWatch(store, _wait_patience())

    def save():
        atomic_write_json(status_file, {"suite": suite_name, "launcher": type(launcher).__name__,
                                        "resources": {"gpus": resources.gpus, "cpus": resources.cpus,
                                                      "device": resources.device},
                                        "jobs": list(states.values())})

    def say(text):
        if console is not None:
            console.print(text, highlight=False, markup=False, soft_wrap=True)

    def submit(job):
        try:
            handle = launcher.submit(job, worker)
        except RibError:
            raise
        except Exception as exc:  # the scheduler refused it (sbatch: "Requested node configuration is not available")
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise RibError(f"the scheduler refused job {job.name} ({job.describe}), which asks for "
                           f"{resources.describe()}: {type(exc).__name__}: {detail}\nChange what each job asks for "
                           "(--gpus-per-job, --cpus-per-job, --device, or the launcher's own options) and run the "
                           "same command again.") from exc
        handles[job.name] = handle
        states[job.name].update(state="submitted", id=launcher.job_id(handle))
        states[job.name]["attempts"] += 1
        watch.submitted(job)

    def in_flight():
        return [job for job in jobs if states[job.name]["state"] == "submitted"]

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
                            watch.progressed(job)
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
            for job, waited in watch.due(in_flight()):
                handle = handles[job.name]
                why = launcher.waiting_reason(handle) or f"the scheduler says: {launcher.state(handle)}"
                say(f"job {job.name} ({job.describe}) has waited {_duration(waited)} without starting; it asks for "
                    f"{resources.describe()}: {why}")
            if changed:
                save()
            if all(s["state"] in ("done", "failed", "skipped") for s in states.values()):
                return stats
            time.sleep(POLL_SECONDS)
    except BaseException:  # Ctrl-C, SIGTERM, a bug: jobs nobody follows any more are stopped, not orphaned
        cancelled = [job for job in in_flight() if not _finished_quietly(launcher, handles[job.name])]
        if cancelled:
            for job in cancelled:
                _cancel_quietly(launcher, handles[job.name])
                states[job.name].update(state="pending", error="cancelled: rib bench stopped")
            _quietly(save)
            ended = _wait_for(launcher, [handles[j.name] for j in cancelled], CANCEL_WAIT_SECONDS)
            names = ", ".join(j.name for j in cancelled[:8]) + (", ..." if len(cancelled) > 8 else "")
            say(f"rib bench stopped: cancelled {len(cancelled)} job(s) still queued or running ({names})"
                + ("" if ended else f"; some had not ended after {CANCEL_WAIT_SECONDS:.0f} s (the scheduler ends "
                                   "them)") + ". Finished cells are kept; run the same command again to resume.")
        raise
    finally:
        launcher.close()


def _quietly(fn, *args):
    try:
        return fn(*args)
    except Exception:
        return None


def _finished_quietly(launcher, handle) -> bool:
    return bool(_quietly(launcher.finished, handle))


def _cancel_quietly(launcher, handle) -> None:
    _quietly(launcher.cancel, handle)


def _wait_for(launcher, handles: list, seconds: float) -> bool:
    """True once every handle has finished, False if some have not after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_finished_quietly(launcher, h) for h in handles):
            return True
        time.sleep(0.2)
    return False


__all__ = ["Job", "JobResources", "Launcher", "LocalLauncher", "Worker", "job_resources", "launch", "local_gpus",
           "plan_jobs", "run_job", "unschedulable"]
