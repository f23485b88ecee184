"""The submitit launcher: each rib job is one submitit job (SLURM, or a local subprocess with --cluster local)."""

from __future__ import annotations

import os
from pathlib import Path

import submitit

from rib_core.api import Launcher, UsageError, run_job


class RibJob(submitit.helpers.Checkpointable):
    """The callable a submitit job runs. Checkpointable: on preemption or timeout SLURM requeues the same call,
    which skips finished cells and resumes the fine-tune from its last epoch checkpoint."""

    def __call__(self, worker, keys):
        if int(os.environ.get("SUBMITIT_LOCAL_NTASKS", os.environ.get("SLURM_NTASKS", "1"))) > 1:
            # Several tasks (--gpus-per-job > 1): one process per GPU, joined like torchrun's.
            submitit.helpers.TorchDistributedEnvironment().export()
        return run_job(worker, keys)


class SubmititLauncher(Launcher):
    def __init__(self, options):
        super().__init__(options)
        cluster = None if options.cluster == "auto" else options.cluster
        folder = Path(options.submitit_folder or Path(options.out) / "launch" / "submitit")
        self.executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
        gpus = options.gpus_per_job if options.gpus_per_job is not None else (
            0 if options.device in ("cpu", "mps") else 1)
        params = {"timeout_min": options.slurm_time, "nodes": 1, "tasks_per_node": max(1, gpus),
                  "gpus_per_node": gpus, "cpus_per_task": max(1, (options.cpus_per_job or 8) // max(1, gpus))}
        if self.executor.cluster == "slurm":
            extra = {}
            for option in options.slurm_option:
                key, sep, value = option.partition("=")
                if not sep:
                    raise UsageError(f"--slurm-option expects KEY=VALUE (e.g. account=lab), got '{option}'.")
                extra[key] = value
            if options.slurm_partition:
                params["slurm_partition"] = options.slurm_partition
            params["slurm_additional_parameters"] = extra
            params["slurm_signal_delay_s"] = 120  # time to leave a clean epoch checkpoint before the kill
        self.executor.update_parameters(**params)

    def submit(self, job, worker):
        self.executor.update_parameters(name=f"rib-{job.name}")
        return self.executor.submit(RibJob(), worker, job.keys)

    def finished(self, handle) -> bool:
        return handle.done()

    def result(self, handle) -> dict:
        return handle.result()

    def job_id(self, handle) -> str:
        return str(handle.job_id)

    def state(self, handle) -> str:
        try:
            return handle.state
        except Exception:  # sacct unavailable for a moment: not worth failing the run
            return "unknown"
