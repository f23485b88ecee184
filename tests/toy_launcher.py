"""A launcher for tests of the contract: runs each job in this process when rib polls it.

RIB_TOY_LOSE_JOBS=name,name: the first attempt of those jobs "dies" (as if its node went down) after doing
nothing, so rib must submit them again.
"""

from __future__ import annotations

import os

from rib_core.api import Launcher, hookimpl, run_job


@hookimpl
def register_launchers(register):
    register("inline", "tests.toy_launcher:InlineLauncher", "runs jobs in the rib process (tests)",
             arguments="tests.toy_launcher:add_arguments")


def add_arguments(group):
    group.add_argument("--inline-tag", help="inline: an option of the test launcher")


class InlineLauncher(Launcher):
    def __init__(self, options):
        super().__init__(options)
        self.lose = set(filter(None, os.environ.get("RIB_TOY_LOSE_JOBS", "").split(",")))
        self.submitted: list[str] = []

    def submit(self, job, worker):
        self.submitted.append(job.name)
        return job, worker, self.submitted.count(job.name)

    def finished(self, handle) -> bool:
        return True

    def result(self, handle) -> dict:
        job, worker, attempt = handle
        if job.name in self.lose and attempt == 1:
            raise RuntimeError(f"node of {job.name} died")
        return run_job(worker, job.keys)

    def job_id(self, handle) -> str:
        return f"{handle[0].name}.{handle[2]}"
