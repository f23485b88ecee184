"""The Ray launcher: each rib job is one Ray task asking for the job's GPUs; Ray retries it if its worker or
node dies, and the retry skips finished cells and resumes the fine-tune from its last epoch checkpoint."""

from __future__ import annotations

import os

import ray

from rib_core.api import Launcher, run_job


def _run(worker, keys):
    return run_job(worker, keys)


class RayLauncher(Launcher):
    def __init__(self, options):
        super().__init__(options)
        address = options.ray_address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a private instance on this machine, reachable only through the loopback interface
            ray.init(num_cpus=options.ray_num_cpus, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
        gpus = options.gpus_per_job if options.gpus_per_job is not None else (
            0 if options.device in ("cpu", "mps") else 1)
        # max_retries: Ray runs the task again when its worker process or node dies (not when it raises).
        self.task = ray.remote(_run)
        self.resources = {"num_gpus": gpus, "num_cpus": options.cpus_per_job or 1,
                          "max_retries": options.max_retries, "retry_exceptions": False}

    def submit(self, job, worker):
        return self.task.options(name=f"rib-{job.name}", **self.resources).remote(worker, job.keys)

    def finished(self, handle) -> bool:
        ready, _ = ray.wait([handle], timeout=0)
        return bool(ready)

    def result(self, handle) -> dict:
        return ray.get(handle)

    def job_id(self, handle) -> str:
        return handle.task_id().hex()

    def close(self) -> None:
        ray.shutdown()
