"""`rib bench`: run a suite (resumes where a previous run stopped), or `--dry-run` to see its plan and cost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rib_core.cli.common import add_data_root_argument, add_suite_arguments, console
from rib_core.errors import DataError, UsageError


def add_parser(sub) -> None:
    bench = sub.add_parser("bench", help="run a suite (resumes where a previous run stopped)")
    add_suite_arguments(bench)
    bench.add_argument("--out", type=Path, default=Path("rib-results"), help="results directory (default: ./rib-results)")
    add_data_root_argument(bench)
    bench.add_argument("--dry-run", action="store_true", help="print the plan, its cost and everything that is "
                       "missing; run nothing (exits 0 even when something is missing)")
    bench.add_argument("--device", default="auto", help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps")
    bench.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                       help="processes decoding images when the cache is built")
    bench.add_argument("--shard", help="I/N: run the I-th of N deterministic parts of the grid (1-based)")
    bench.add_argument("--weights", action="append", metavar="[MODEL=]FILE", default=[],
                       help="local weights (safetensors, or a torch file loaded with weights_only=True) for a model "
                            "of the suite, by its label; FILE alone when the suite has one model. Repeatable.")
    bench.add_argument("--no-report", action="store_true", help="do not print the report at the end")
    bench.add_argument("--no-calibrate", action="store_true",
                       help="with --dry-run: estimate time from the documented table instead of measuring")
    add_launcher_arguments(bench)


def add_launcher_arguments(bench) -> None:
    """--launcher and the options every installed launcher plugin adds (from its light `arguments` function)."""
    from rib_core.plugins import get_registry

    group = bench.add_argument_group("launchers (docs/cluster.md)")
    group.add_argument("--launcher", default="local",
                       help="who runs the grid's jobs: local (this process, default) or a launcher plugin "
                            "(rib list launchers), e.g. submitit (SLURM) or ray")
    group.add_argument("--gpus-per-job", type=int, default=None, metavar="G",
                       help="GPUs each job asks its scheduler for (launcher plugins; default 1 with --device "
                            "cuda, 0 with cpu; with auto, 1 where the jobs' machines have GPUs, else 0)")
    group.add_argument("--cpus-per-job", type=int, default=None, metavar="C",
                       help="CPUs each job asks its scheduler for (launcher plugins; default: the plugin's)")
    group.add_argument("--max-retries", type=int, default=2, metavar="N",
                       help="launcher plugins: run a job whose process died again, up to N times (default 2)")
    for reg in get_registry().names("launchers"):
        target = reg.extra.get("arguments")
        if not target:
            continue
        try:
            add = reg.load_extra("arguments")
            add(bench.add_argument_group(f"--launcher {reg.name} (plugin {reg.plugin})"))
        except Exception as exc:  # a broken plugin must not break `rib --help`
            print(f"rib: warning: launcher '{reg.name}' options unavailable: {exc}", file=sys.stderr)


def _manifest(prepared, plan) -> dict:
    """The run manifest, with the command that made it (shown by reports, so that a run can be reproduced)."""
    import shlex
    import time

    from rib_core.engine.order import run_manifest

    return dict(run_manifest(prepared, plan), command=shlex.join(["rib", *sys.argv[1:]]),
                planned_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def interrupted_note(args) -> str:
    return "finished cells are kept"


def run(args) -> int:
    from rib_core.config import load_suite
    from rib_core.engine.plan import build_plan
    from rib_core.engine.prepare import prepare
    from rib_core.engine.store import Store
    from rib_core.plugins import get_registry

    registry = get_registry()
    suite = load_suite(args.config, args.suite, weights=args.weights, data_root=args.data_root, registry=registry)
    prepared = prepare(suite, registry, check_weights=args.dry_run)
    err = Console(stderr=True)
    for label in suite.skipped:
        err.print(f"[dim]strategy '{label}' skipped: its plugin is not installed (optional in this suite)[/]")
    for warning in prepared.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if prepared.problems and not args.dry_run:
        # The same list the dry run prints, before any work.
        raise DataError("cannot start suite '{}':\n- {}\n(`rib bench --dry-run` lists these with the plan.)".format(
            suite.name, "\n- ".join(prepared.problems)))
    plan = build_plan(prepared)
    shard = None
    plan_to_run = plan
    if args.shard:
        from rib_core.engine.shard import parse_shard, select_shard

        shard = parse_shard(args.shard)
        plan_to_run = select_shard(plan, *shard)
    store = Store(args.out)
    launcher_cls = registry.load("launchers", args.launcher)
    if shard is not None and not launcher_cls.in_process:
        raise UsageError(f"--shard is for plain job arrays of 'rib bench'; --launcher {args.launcher} spreads the "
                         "grid over jobs itself. Use one of the two.")
    if args.dry_run:
        from rib_core.engine.estimate import print_dry_run

        print_dry_run(prepared, plan, plan_to_run, store, console(), calibrate_speed=not args.no_calibrate,
                      device=args.device)
        return 0
    if not launcher_cls.in_process:
        stats = _launch(args, launcher_cls, prepared, plan, store, err)
    else:
        stats, main_process = _run_here(args, prepared, plan, store, shard, err)
        if not main_process:  # a torchrun rank other than the first: rank 0 reports
            return 1 if stats.failed else 0
    return _finish(args, stats, store, suite, registry, err)


def _run_here(args, prepared, plan, store, shard, err):
    """The local launcher: this process (and its torchrun peers) runs the plan, or its shard."""
    from rib_core.engine import distributed
    from rib_core.engine.device import select_device
    from rib_core.engine.locks import RunLock
    from rib_core.engine.progress import make_progress
    from rib_core.engine.runner import Runner

    device = distributed.setup(args.device) or select_device(args.device)
    main_process = distributed.is_main()
    store.check_writable()
    lock = None
    if main_process:
        lock = RunLock(store.root, shard=shard is not None)
        lock.acquire()
    try:
        if main_process:
            store.write_run(prepared.suite.name, _manifest(prepared, plan))
        progress = make_progress(err) if main_process else None
        runner = Runner(prepared, plan, store, device, progress=progress, workers=args.workers)
        scheduler = None
        if shard is not None:
            from rib_core.engine.shard import Sharded

            scheduler = Sharded(store, shard)
        try:
            stats = runner.run(scheduler)
        finally:
            if progress is not None:
                progress.stop()
    finally:
        if lock is not None:
            lock.release()
        distributed.shutdown()
    return stats, main_process


def _launch(args, launcher_cls, prepared, plan, store, err):
    """`rib bench --launcher NAME`: the grid's jobs run wherever the launcher plugin puts them."""
    from rib_core.engine.jobs import Worker
    from rib_core.engine.launch import launch
    from rib_core.engine.locks import RunLock
    from rib_core.engine.runner import RunStats
    from rib_core.plugins import get_registry

    if args.max_retries < 0:
        raise UsageError("--max-retries takes a number >= 0.")
    # The launcher first: it decides each job's resources (launch.job_resources) and refuses what can never run
    # (no SLURM here, a job no node can hold) before anything is written.
    launcher = get_registry().get("launchers", args.launcher).create(args)
    store.check_writable()
    lock = RunLock(store.root)
    lock.acquire()
    try:
        manifest = _manifest(prepared, plan)
        store.write_run(prepared.suite.name, manifest)
        worker = Worker.for_run(store.root, manifest, device=args.device, workers=args.workers)
        return launch(launcher, plan, store, prepared.suite.name, worker, RunStats(), max_retries=args.max_retries,
                      console=err)
    finally:
        lock.release()


def _finish(args, stats, store, suite, registry, err) -> int:
    from rib_core.report.endings import next_steps

    err.print(f"{stats.cells_run} cell(s) run, {stats.cells_reused} reused; "
              f"{stats.image_forwards} image forwards, {stats.train_steps} training steps.")
    if not args.no_report:
        from rib_core.report.show import make_report, show

        show(make_report(store.root, suite.name, registry, suite.metrics), "table", registry)
    # Plain text, unwrapped: error messages hold brackets ("[training] lr") that rich would eat as markup, and
    # file paths in them must stay whole for copy and paste.
    err.print("\n".join(next_steps(args.out, stats.failed, stats.skipped)), markup=False, highlight=False,
              soft_wrap=True)
    return 1 if stats.failed or stats.skipped else 0
