"""The Ray launcher: each rib job is one Ray task asking for the job's GPUs; Ray retries it if its worker or
node dies, and the retry skips finished cells and resumes the fine-tune from its last epoch checkpoint.

Each job asks for what `Launcher.decide_resources` decides from the cluster's GPUs (`--device auto` on a cluster
without GPUs: none). A private instance can never grow, so a job none of its nodes can hold is refused at once;
a joined cluster may add nodes (autoscaling), so there rib says why the job waits instead.
"""

from __future__ import annotations

import os
import signal
import threading

import ray

from rib_core.api import Launcher, UsageError, run_job


def _run(worker, keys):
    return run_job(worker, keys)


class RayLauncher(Launcher):
    def __init__(self, options):
        super().__init__(options)
        address = options.ray_address or os.environ.get("RAY_ADDRESS")
        self.private = not address
        on_term = signal.getsignal(signal.SIGTERM)
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a private instance on this machine, reachable only through the loopback interface
            ray.init(num_cpus=options.ray_num_cpus, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
        if on_term is not None and threading.current_thread() is threading.main_thread():
            # Ray's core worker installs its own SIGTERM handler (it prints a stack and kills the process): give
            # it back to rib's, which cancels the jobs and says so before exiting (143).
            signal.signal(signal.SIGTERM, on_term)
        try:
            resources = self.decide_resources(int(ray.cluster_resources().get("GPU", 0)))
            problem = self.unschedulable_here()
            if problem and self.private:
                raise UsageError(f"--launcher ray: {problem}")
        except BaseException:
            ray.shutdown()
            raise
        # max_retries: Ray runs the task again when its worker process or node dies (not when it raises).
        self.task = ray.remote(_run)
        self.task_options = {"num_gpus": resources.gpus, "num_cpus": resources.cpus,
                             "max_retries": options.max_retries, "retry_exceptions": False}

    def unschedulable_here(self) -> str | None:
        """Why no node of the cluster can hold a job now, or None."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        where = "the Ray instance rib started here" if self.private else "the Ray cluster"
        return self.unschedulable(nodes, where)

    def submit(self, job, worker):
        return self.task.options(name=f"rib-{job.name}", **self.task_options).remote(worker, job.keys)

    def finished(self, handle) -> bool:
        ready, _ = ray.wait([handle], timeout=0)
        return bool(ready)

    def result(self, handle) -> dict:
        return ray.get(handle)

    def job_id(self, handle) -> str:
        return handle.task_id().hex()

    def waiting_reason(self, handle) -> str | None:
        problem = self.unschedulable_here()
        if problem:
            return f"{problem} (it starts once such a node joins the cluster)"
        free = ray.available_resources()
        return (f"Ray has {free.get('GPU', 0):g} GPU(s) and {free.get('CPU', 0):g} CPU(s) free now; the job starts "
                "when enough are")

    def cancel(self, handle) -> None:
        ray.cancel(handle, force=True)

    def close(self) -> None:
        ray.shutdown()
