"""What each `rib` sub-command does. `plugins` and `list` never import torch."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rib_core.errors import DataError, UsageError
from rib_core.plugins import SHIPPED_PLUGINS, get_registry


def _console() -> Console:
    return Console(width=100 if not sys.stdout.isatty() else None)


# -- rib plugins / rib list ----------------------------------------------------------------------------------
def plugins(args) -> int:
    registry = get_registry()
    infos = [info.as_dict() for info in registry.plugins.values()]
    if args.json:
        print(json.dumps(infos, indent=1))
        return 0
    table = Table(show_edge=False, pad_edge=False)
    for col in ("plugin", "version", "registers", "status"):
        table.add_column(col, overflow="fold")
    for info in infos:
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info["registered"].items())
        status = "[green]ok[/]" if info["status"] == "ok" else f"[red]{escape(info['status'])}[/]"
        # Plugin-provided text is escaped: "rib-core[hub]" is a name, not rich markup.
        table.add_row(escape(info["name"] + (" (built-in)" if info["builtin"] else "")), escape(info["version"] or ""),
                      escape(registered or "—"), status)
    _console().print(table)
    return 0


def list(args) -> int:  # noqa: A001 - the sub-command's name
    registry = get_registry()
    kind = args.kind
    rows = [{"name": r.name, "plugin": r.plugin, "description": r.description, "installed": True}
            for r in registry.names(kind)]
    known = {r["name"] for r in rows}
    installed = {info.name for info in registry.plugins.values() if info.error is None}
    for name, dist in SHIPPED_PLUGINS.get(kind, {}).items():
        if dist not in installed and name not in known:
            rows.append({"name": name, "plugin": dist, "installed": False,
                         "description": f"not installed: pip install {dist} (here: pip install plugins/{dist})"})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("description", overflow="fold")
    for r in rows:
        style = "" if r["installed"] else "dim"
        table.add_row(escape(r["name"]), escape(r["plugin"]), escape(r["description"]), style=style)
    _console().print(table)
    return 0


# -- rib bench ------------------------------------------------------------------------------------------------
def bench(args) -> int:
    from rib_core.engine.order import run_manifest
    from rib_core.engine.plan import build_plan
    from rib_core.engine.locks import RunLock
    from rib_core.engine.store import Store

    from rib_core.engine.suite import load_and_prepare

    suite, registry, prepared = load_and_prepare(args)
    console = Console(stderr=True)
    for label in suite.skipped:
        console.print(f"[dim]strategy '{label}' skipped: its plugin is not installed (optional in this suite)[/]")
    for warning in prepared.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if prepared.problems and not args.dry_run:
        raise DataError("cannot start suite '{}':\n- {}".format(suite.name, "\n- ".join(prepared.problems)))
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

        print_dry_run(prepared, plan, plan_to_run, store, _console(), calibrate_speed=not args.no_calibrate,
                      device=args.device)
        return 0

    if not launcher_cls.in_process:
        return _launch(args, launcher_cls, suite, registry, prepared, plan, store, console)
    from rib_core.engine import distributed
    from rib_core.engine.progress import make_progress
    from rib_core.engine.device import select_device
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
            store.write_run(suite.name, run_manifest(prepared, plan))
        progress = make_progress(console) if main_process else None
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
    if not main_process:
        return 1 if stats.failed else 0
    return _finish(args, stats, store, suite, registry, console)


def _launch(args, launcher_cls, suite, registry, prepared, plan, store, console) -> int:
    """`rib bench --launcher NAME`: the grid's jobs run wherever the launcher plugin puts them."""
    from rib_core.engine.launch import Worker, launch
    from rib_core.engine.order import run_manifest
    from rib_core.engine.runner import RunStats
    from rib_core.engine.locks import RunLock

    if args.max_retries < 0:
        raise UsageError("--max-retries takes a number >= 0.")
    # The launcher first: it decides each job's resources (launch.job_resources) and refuses what can never run
    # (no SLURM here, a job no node can hold) before anything is written.
    launcher = launcher_cls(args)
    store.check_writable()
    lock = RunLock(store.root)
    lock.acquire()
    try:
        store.write_run(suite.name, run_manifest(prepared, plan))
        stats = launch(launcher, plan, store, suite.name, Worker.from_args(args), RunStats(),
                       max_retries=args.max_retries, console=console)
    finally:
        lock.release()
    return _finish(args, stats, store, suite, registry, console)


def _finish(args, stats, store, suite, registry, console) -> int:
    console.print(f"{stats.cells_run} cell(s) run, {stats.cells_reused} reused; "
                  f"{stats.image_forwards} image forwards, {stats.train_steps} training steps.")
    if not args.no_report:
        _print_report(store.root, suite.name, registry, suite.metrics)
    from rib_core.report.endings import next_steps

    # Plain text, unwrapped: error messages hold brackets ("[training] lr") that rich would eat as markup, and
    # file paths in them must stay whole for copy and paste.
    console.print("\n".join(next_steps(args.out, stats.failed, stats.skipped)), markup=False, highlight=False,
                  soft_wrap=True)
    return 1 if stats.failed or stats.skipped else 0


def _print_report(root, suite_name, registry, metric_names=None, fmt="table", compare=None, against=None):
    from rib_core.engine.results import load_results
    from rib_core.report.build import build_report

    results = load_results(root, suite_name)
    report = build_report(results, registry, metric_names)
    if compare:
        from rib_core.report.compare import compare as paired_difference

        report["comparisons"] = paired_difference(results, *compare)
    if against:
        from rib_core.report.paper import against as against_paper

        report["against"] = against_paper(results, against)
    if fmt == "table":
        from rib_core.report.terminal import render

        console = _console()
        render(report, console)
        if compare:
            from rib_core.report.compare import render as render_comparison

            render_comparison(report["comparisons"], console)
        if against:
            from rib_core.report.paper import render as render_paper

            render_paper(report["against"], console)
    else:
        registry.load("formats", fmt)(report, sys.stdout)
    return report


# -- rib report / status --------------------------------------------------------------------------------------
def report(args) -> int:
    registry = get_registry()
    registry.get("formats", args.format)  # unknown format -> exit 2 before any work
    if not args.dir.is_dir():
        raise UsageError(f"results directory '{args.dir}' does not exist. Pass the --out of a 'rib bench' run.")
    if args.plot:
        from rib_core.report.figures import check_target

        check_target(args.plot, args.plot_style)  # a bad file name or style -> exit 2 before any work
    from rib_core.engine.results import suites_in

    suites = [args.suite] if args.suite else suites_in(args.dir)
    if len(suites) > 1:
        # Suites never share a table: their cells differ even where their labels agree (paper-quick vs paper).
        if args.format != "table" or args.plot or args.compare or args.against:
            raise UsageError(f"'{args.dir}' holds {len(suites)} suites ({', '.join(suites)}); choose one with "
                             "--suite NAME for --format, --plot, --compare or --against.")
        for name in suites:
            _console().rule(f"suite {name}")
            _print_report(args.dir, name, registry)
        return 0
    report_data = _print_report(args.dir, suites[0] if suites else None, registry, fmt=args.format,
                                compare=args.compare, against=args.against)
    if args.plot:
        from rib_core.report.figures import write_figures

        for path in write_figures(report_data, args.plot, args.plot_style):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def status(args) -> int:
    from rib_core.engine.status import print_status

    return print_status(args.dir, _console(), as_json=args.json)


# -- rib datasets check ---------------------------------------------------------------------------------------
def datasets(args) -> int:
    from rib_core.data.commands import check_command
    from rib_core.data.get_cli import GET_COMMANDS

    command = GET_COMMANDS.get(args.datasets_command, check_command)
    return command(args, get_registry(), _console())
