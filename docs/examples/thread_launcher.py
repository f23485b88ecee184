"""A launcher plugin: `rib bench --launcher mylab-threads` runs the grid's jobs on background threads.

A real one submits `run_job(worker, job.keys)` to a scheduler (see plugins/rib-submitit); the protocol is the same.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from rib_core.api import Launcher, hookimpl, run_job


@hookimpl
def register_launchers(register):
    register("mylab-threads", "thread_launcher:ThreadLauncher", "jobs on background threads of this process",
             arguments="thread_launcher:add_arguments")


def add_arguments(group):  # runs for `rib --help`: import nothing heavy here
    group.add_argument("--mylab-threads", type=int, default=1, metavar="N", help="jobs at a time (default 1)")


class ThreadLauncher(Launcher):
    def __init__(self, options):  # the parsed `rib bench` arguments, this launcher's own included
        super().__init__(options)
        self.pool = ThreadPoolExecutor(max_workers=options.mylab_threads)

    def submit(self, job, worker):  # called once the jobs in job.after are done; worker is small and picklable
        # Jobs share this process here: each decodes images in its own thread, not in worker processes.
        return self.pool.submit(run_job, replace(worker, workers=0), job.keys)

    def finished(self, handle) -> bool:
        return handle.done()

    def result(self, handle) -> dict:  # raising means the job died: rib submits it again (--max-retries)
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown()
