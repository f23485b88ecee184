"""The submitit launcher: each rib job is one submitit job (SLURM, or a local subprocess with --cluster local).

Each job asks for what `Launcher.decide_resources` decides: on SLURM the partition's GPUs cannot be known from
here, so `--device auto` asks for one GPU per job (sbatch refuses a request no node can meet, and rib says so);
the local executor uses this machine's GPUs, none on a CPU-only machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def _cluster(requested: str) -> str:
    """slurm or local; --cluster slurm where there is no SLURM is refused before anything is written."""
    has_slurm = all(shutil.which(tool) for tool in ("sbatch", "srun"))
    if requested == "slurm" and not has_slurm:
        raise UsageError("--cluster slurm: this machine has no SLURM ('sbatch' and 'srun' are not on PATH). Run "
                         "rib bench on a login node of the cluster, or --cluster local to run the jobs here.")
    if requested == "auto":
        if not has_slurm:
            print("rib: --launcher submitit: no SLURM here ('sbatch' not on PATH), so the jobs run as "
                  "subprocesses of this machine (--cluster local).", file=sys.stderr)
        return "slurm" if has_slurm else "local"
    return requested


class SubmititLauncher(Launcher):
    def __init__(self, options):
        super().__init__(options)
        cluster = _cluster(options.cluster)
        if cluster == "slurm":
            resources = self.decide_resources(None, default_cpus=8)
        else:
            resources = self.decide_resources(self.this_machine()["GPU"])
            problem = self.unschedulable([self.this_machine()], "this machine (--cluster local)")
            if problem:
                raise UsageError(f"--launcher submitit: {problem}")
        extra = {}
        for option in options.slurm_option:
            key, sep, value = option.partition("=")
            if not sep:
                raise UsageError(f"--slurm-option expects KEY=VALUE (e.g. account=lab), got '{option}'.")
            extra[key] = value
        folder = Path(options.submitit_folder or Path(options.out) / "launch" / "submitit")
        self.executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
        gpus = resources.gpus
        params = {"timeout_min": options.slurm_time, "nodes": 1, "tasks_per_node": max(1, gpus),
                  "gpus_per_node": gpus, "cpus_per_task": max(1, resources.cpus // max(1, gpus))}
        if self.executor.cluster == "slurm":
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

    def waiting_reason(self, handle) -> str | None:
        if self.executor.cluster != "slurm":
            return None
        try:  # SLURM's own reason: Priority, Resources, QOSMaxGRESPerUser, ReqNodeNotAvail, ...
            reason = subprocess.run(["squeue", "-h", "-j", str(handle.job_id), "-o", "%r"], capture_output=True,
                                    text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            reason = ""
        if not reason:
            return None
        return (f"SLURM keeps it {self.state(handle).lower()} ({reason}). If it can never run there, change "
                "--gpus-per-job, --cpus-per-job, --slurm-time or --slurm-partition")

    def cancel(self, handle) -> None:
        handle.cancel(check=False)  # local: SIGINT to the job's controller, which stops its tasks; SLURM: scancel
