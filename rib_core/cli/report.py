"""`rib report DIR [DIR ...]`: the report of results directories, as tables, JSON, CSV, an HTML page or a plugin's
format; figures."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rib_core.cli.common import console
from rib_core.errors import UsageError

# Formats that hold several reports (several DIRs, or a DIR with several suites), each on its own.
MULTI = ("table", "html")


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="print or export the report of a results directory")
    report.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="results directories (default: "
                        "rib-results); several: one report each (--format table or html)")
    report.add_argument("--suite", help="only this suite's results (default: every suite in DIR, each on its own)")
    report.add_argument("--format", default="table", help="table (default), json, csv, html (one self-contained "
                        "page), or a plugin's format")
    report.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report to FILE (written "
                        "whole or not at all) instead of printing it")
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
    dirs = args.dirs or [Path("rib-results")]
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"results directory '{d}' does not exist. Pass the --out of a 'rib bench' run.")
    if args.output is not None:
        check_output(args.output)
    if args.plot:
        from rib_core.report.figures import check_target

        check_target(args.plot, args.plot_style)  # a bad file name, folder or style -> exit 2 before any work
    if args.plan is not None and not args.plan.is_file():
        raise UsageError(f"--plan {args.plan}: no such file. The report names the superseded plans of a suite.")
    targets = [(d, name) for d in dirs for name in ([args.suite] if args.suite else suites_in(d) or [None])]
    if len(targets) > 1:
        refuse_several(args, dirs, targets)
    out = io.StringIO() if args.output is not None else None
    written = []
    if len(targets) > 1 and args.format == "table":  # each suite's terminal report in turn; never one table
        from rich.console import Console

        rules = console() if out is None else Console(file=out, width=100)
        for d, name in targets:
            rules.rule(f"suite {name}" if len(dirs) == 1 else f"{d} · suite {name}")
            show(make_report(d, name, registry), "table", registry, out)
    else:
        reports = [make_report(d, name, registry, compare=args.compare, against=args.against, plan=args.plan,
                               alpha=args.alpha) for d, name in targets]
        if args.plot:  # one report (refuse_several); refuses (exit 2) before the report prints
            from rib_core.report.figures import write_figures

            written = write_figures(reports[0], args.plot, args.plot_style)
        if args.format == "html":  # one page, however many reports
            from rib_core.report.html import write_page

            write_page(reports, out or sys.stdout)
        else:
            show(reports[0], args.format, registry, out)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if out is not None:
        from rib_core.disk import atomic_write_bytes

        atomic_write_bytes(args.output, out.getvalue().encode("utf-8"))
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def check_output(path: Path) -> None:
    """Refuse an -o target that cannot be written, before any work."""
    if path.is_dir():
        raise UsageError(f"-o {path}: that is a folder; name the file to write, e.g. -o {path / 'results.html'}.")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise UsageError(f"-o {path}: the folder '{folder}' {what}. Create it (mkdir -p {folder}) or write elsewhere.")


def refuse_several(args, dirs: list[Path], targets: list[tuple]) -> None:
    """Several reports: the formats that hold several (table, html) take them; the others, --plot and --plan need
    one suite of one directory."""
    several_suites = len(dirs) == 1
    what = (f"'{dirs[0]}' holds {len(targets)} suites ({', '.join(str(n) for _, n in targets)})" if several_suites
            else f"{len(dirs)} directories hold {len(targets)} reports")
    fix = "choose one with --suite NAME" if several_suites else "pass one DIR (and --suite NAME)"
    if args.plot or args.plan is not None:
        raise UsageError(f"{what}; {fix} for --plot or --plan.")
    if args.format not in MULTI:
        raise UsageError(f"{what}; {fix} for --format {args.format} (--format html puts several reports on one "
                         "page).")
    if args.format == "table" and (args.compare or args.against):
        raise UsageError(f"{what}; {fix} for --compare or --against (or use --format html: each report gets its "
                         "own section).")
