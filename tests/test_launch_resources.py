"""What each launcher job asks for, decided once from the resolved device; jobs that can never start or that
wait long say so; an interrupted launch cancels its jobs (issue 30 and issue 35 item 7)."""

from types import SimpleNamespace

import pytest

from rib_core.engine.launch import JobResources, Launcher, job_resources, launch, unschedulable
from rib_core.engine.runner import RunStats
from rib_core.engine.store import Store
from rib_core.errors import UsageError


@pytest.mark.parametrize("device, gpus_per_job, gpus_available, expected", [
    ("auto", None, 0, JobResources(0, 1, "cpu")),      # a CPU-only machine or cluster: no job waits for a GPU
    ("auto", None, 4, JobResources(1, 1, "auto")),
    ("auto", None, None, JobResources(1, 1, "auto")),   # unknown (a SLURM partition): one GPU, as documented
    ("auto", 2, 0, JobResources(2, 1, "auto")),         # asked for: kept (the launcher refuses it if it cannot be)
    ("auto", 0, 8, JobResources(0, 1, "cpu")),
    ("cpu", None, 8, JobResources(0, 1, "cpu")),
    ("mps", None, 0, JobResources(0, 1, "mps")),
    ("cuda", None, 0, JobResources(1, 1, "cuda")),
    ("cuda:1", 2, None, JobResources(2, 1, "cuda:1")),
])
def test_job_resources_come_from_the_resolved_device(device, gpus_per_job, gpus_available, expected):
    assert job_resources(device, gpus_per_job, None, gpus_available=gpus_available) == expected


def test_job_resources_cpus_default_to_the_launchers_and_contradictions_are_usage_errors():
    assert job_resources("cpu", None, 6, gpus_available=0).cpus == 6
    assert job_resources("cpu", None, None, gpus_available=0, default_cpus=8).cpus == 8
    for device, gpus, cpus, flag in (("cpu", 1, None, "--gpus-per-job"), ("cuda", 0, None, "--gpus-per-job 0"),
                                     ("auto", -1, None, "--gpus-per-job"), ("auto", None, 0, "--cpus-per-job")):
        with pytest.raises(UsageError, match=flag):
            job_resources(device, gpus, cpus, gpus_available=1)


def test_a_job_no_node_can_hold_is_named_with_the_flag_that_sets_it():
    gpu_job, cpu_job = JobResources(1, 1, "auto"), JobResources(0, 16, "cpu")
    assert unschedulable(gpu_job, [{"GPU": 0, "CPU": 2}, {"GPU": 1, "CPU": 8}], "the cluster") is None
    message = unschedulable(gpu_job, [{"GPU": 0, "CPU": 2}], "this machine")
    assert message == ("each job asks for 1 GPU and 1 CPU, but this machine can never hold one (it has 0 GPUs and "
                       "2 CPUs). Set --gpus-per-job 0 (or --device cpu).")
    message = unschedulable(cpu_job, [{"GPU": 0, "CPU": 2}, {"GPU": 0, "CPU": 4}], "the Ray cluster")
    assert "its largest node has 0 GPUs and 4 CPUs" in message and "--cpus-per-job 4" in message


class Cell:
    def __init__(self, key, kind="finetune", model="m"):
        self.key, self.kind, self.model, self.finetune_key, self.deps, self.work = key, kind, model, None, (), 1

    def describe(self):
        return f"fine-tune {self.key}"


class NeverStarts(Launcher):
    """Jobs that stay queued; after `polls` polls, `interrupt` is raised from the poll (a Ctrl-C or SIGTERM)."""

    def __init__(self, polls, interrupt=KeyboardInterrupt):
        super().__init__(SimpleNamespace(device="cpu", gpus_per_job=None, cpus_per_job=None))
        self.polls, self.interrupt, self.cancelled, self.closed = polls, interrupt, [], False

    def submit(self, job, worker):
        return job.name

    def finished(self, handle):
        if handle in self.cancelled:
            return True
        self.polls -= 1
        if self.polls == -1:  # once, like a signal
            raise self.interrupt()
        return False

    def state(self, handle):
        return "PENDING"

    def waiting_reason(self, handle):
        return "no free node"

    def cancel(self, handle):
        self.cancelled.append(handle)

    def close(self):
        self.closed = True


class Console:
    def __init__(self):
        self.lines = []

    def print(self, text, **_):
        self.lines.append(text)


def test_a_job_that_waits_says_why_and_an_interrupt_cancels_every_queued_job(tmp_path, monkeypatch):
    monkeypatch.setenv("RIB_WAIT_REPORT", "0.3")
    monkeypatch.setattr("rib_core.engine.launch.POLL_SECONDS", 0.05)
    monkeypatch.setattr("rib_core.engine.launch.CANCEL_WAIT_SECONDS", 1.0)
    launcher, console = NeverStarts(polls=2 * 30), Console()  # two jobs polled ~30 times each: ~1.5 s
    with pytest.raises(KeyboardInterrupt):
        launch(launcher, [Cell("a"), Cell("b")], Store(tmp_path), "s", _Worker(), RunStats(), console=console)
    waits = [line for line in console.lines if "without starting" in line]
    assert waits and all("asks for 0 GPUs and 1 CPU: no free node" in line for line in waits)
    assert {line.split()[1] for line in waits} == {"ft-001", "ft-002"}
    assert len(waits) <= 2 * 3  # after 0.3, 0.6, 1.2 s: not once per poll
    assert sorted(launcher.cancelled) == ["ft-001", "ft-002"] and launcher.closed
    assert console.lines[-1].startswith("rib bench stopped: cancelled 2 job(s) still queued or running (ft-001, ft-002)")


def _Worker():
    from rib_core.engine.jobs import Worker

    return Worker("out", "s", "", None, "auto", 0)


def test_a_scheduler_that_refuses_a_job_stops_the_run_with_what_the_job_asked_for(tmp_path):
    from rib_core.errors import RibError

    class Refuses(NeverStarts):
        def submit(self, job, worker):
            raise RuntimeError("sbatch: error: Batch job submission failed: Requested node configuration is not "
                               "available")

    launcher = Refuses(polls=10)
    with pytest.raises(RibError, match=r"refused job ft-001 .* asks for 0 GPUs and 1 CPU: RuntimeError: sbatch: "
                                       r"error: .*not available\nChange what each job asks for \(--gpus-per-job"):
        launch(launcher, [Cell("a")], Store(tmp_path), "s", _Worker(), RunStats())
    assert launcher.closed
