"""A results directory's report, made once and shown in any format: what `rib report` and the end of `rib bench`
print. The report dict (rib_core/report/build.py) is built from the run model; every format renders that dict."""

from __future__ import annotations

import sys
from pathlib import Path


def make_report(root: Path, suite: str | None, registry, metric_names=None, compare=None, against=None,
                plan: Path | None = None, alpha: float = 0.05) -> dict:
    """The report of one suite of the results directory `root` (`plan`: one of its superseded plans)."""
    from rib_core.engine.results import load_results
    from rib_core.report.build import build_report

    results = load_results(root, suite, plan=plan)
    report = build_report(results, registry, list(metric_names) if metric_names else None)
    report["results_dir"] = str(root)
    if compare:
        from rib_core.report.compare import compare as paired_difference

        report["comparisons"] = paired_difference(results, *compare, alpha=alpha)
    if against:
        from rib_core.report.paper import against as against_paper

        report["against"] = against_paper(results, against)
    return report


def show(report: dict, fmt: str, registry, stream=None) -> None:
    """Print `report` as `fmt`: "table" (the terminal report, with its --compare and --against sections) or any
    registered format (json, csv, html, a plugin's), written to `stream` (default: stdout)."""
    if fmt == "table":
        from rich.console import Console

        from rib_core.report.terminal import render, stdout_console

        console = stdout_console() if stream is None else Console(file=stream, width=100)
        render(report, console)
        if report.get("comparisons") is not None:
            from rib_core.report.compare import render as render_comparison

            render_comparison(report["comparisons"], console)
        if report.get("against") is not None:
            from rib_core.report.paper import render as render_paper

            render_paper(report["against"], console)
        return
    registry.load("formats", fmt)(report, stream or sys.stdout)
