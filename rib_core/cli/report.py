"""`rib report DIR`: the report of a results directory, as tables, JSON, CSV or a plugin's format; figures."""

from __future__ import annotations

import sys
from pathlib import Path

from rib_core.cli.common import console
from rib_core.errors import UsageError


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="print or export the report of a results directory")
    report.add_argument("dir", nargs="?", type=Path, default=Path("rib-results"))
    report.add_argument("--suite", help="only this suite's results (default: every suite in DIR, each on its own)")
    report.add_argument("--format", default="table", help="table (default), json, csv, or a plugin's format")
    report.add_argument("--plot", type=Path, help="write the paper figures: FILE (accuracy-change heatmaps), "
                        "FILE-mri and FILE-scatter, as .png, .svg or .pdf")
    report.add_argument("--plot-style", default="paper", help="'paper' (two-column paper figure, default) or a "
                        "matplotlib style file/name")
    report.add_argument("--compare", nargs=2, metavar=("A", "B"), help="paired difference of RI/mRI between two "
                        "strategies (same model) or two models (same strategy)")
    report.add_argument("--alpha", type=float, default=0.05, help="--compare's significance level: mRI's interval "
                        "is 1 - alpha, the RI_i rows are Holm-corrected to family-wise alpha (default 0.05)")
    report.add_argument("--against", metavar="paper", help="print the paper's numbers next to rib's")
    report.add_argument("--plan", type=Path, metavar="FILE", help="report an earlier plan of the suite "
                        "(runs/superseded/<suite>-<time>.json, which the report names when there is one)")


def run(args) -> int:
    from rib_core.engine.results import suites_in
    from rib_core.plugins import get_registry
    from rib_core.report.show import make_report, show

    registry = get_registry()
    registry.get("formats", args.format)  # unknown format -> exit 2 before any work
    from rib_core.report.compare import check_alpha

    check_alpha(args.alpha)  # a bad --alpha -> exit 2 before any work
    if not args.dir.is_dir():
        raise UsageError(f"results directory '{args.dir}' does not exist. Pass the --out of a 'rib bench' run.")
    if args.plot:
        from rib_core.report.figures import check_target

        check_target(args.plot, args.plot_style)  # a bad file name, folder or style -> exit 2 before any work
    if args.plan is not None and not args.plan.is_file():
        raise UsageError(f"--plan {args.plan}: no such file. The report names the superseded plans of a suite.")
    suites = [args.suite] if args.suite else suites_in(args.dir)
    if len(suites) > 1:
        # Suites never share a table: their cells differ even where their labels agree (paper-quick vs paper).
        if args.format != "table" or args.plot or args.compare or args.against:
            raise UsageError(f"'{args.dir}' holds {len(suites)} suites ({', '.join(suites)}); choose one with "
                             "--suite NAME for --format, --plot, --compare or --against.")
        for name in suites:
            console().rule(f"suite {name}")
            show(make_report(args.dir, name, registry), "table", registry)
        return 0
    report = make_report(args.dir, suites[0] if suites else None, registry, compare=args.compare,
                         against=args.against, plan=args.plan, alpha=args.alpha)
    if args.plot:
        from rib_core.report.figures import write_figures

        written = write_figures(report, args.plot, args.plot_style)  # refuses (exit 2) before the report prints
        show(report, args.format, registry)
        for path in written:
            print(f"wrote {path}", file=sys.stderr)
        return 0
    show(report, args.format, registry)
    return 0
