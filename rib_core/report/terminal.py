"""The rich terminal report: per model and strategy, the accuracy matrix coloured by change, RI and mRI."""

from __future__ import annotations

import os
import sys

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rib_core.report.build import lookup, mean_of


def stdout_console() -> Console:
    """The console reports print to: stdout; off a terminal 100 columns wide (a report widens itself to fit)."""
    return Console(width=100 if not sys.stdout.isatty() else None)


def short(name: str) -> str:
    """Short column headers: drop the common 'imagenet-' / 'demo-' prefixes."""
    for prefix in ("imagenet-", "demo-"):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name


def _delta_style(delta: float) -> str:
    if delta != delta:  # nan
        return ""
    if delta >= 5:
        return "bold green"
    if delta >= 0.5:
        return "green"
    if delta <= -5:
        return "bold red"
    if delta <= -0.5:
        return "red"
    return ""


def _fmt(x, ci=None) -> str:
    if x is None or x != x:
        return "—"
    return f"{x:+.1f}" + (f" [{ci[0]:+.1f},{ci[1]:+.1f}]" if ci else "")


def seed_note(report: dict, model: str, strategy: str) -> str:
    """" · mean of 3 seeds" for a matrix whose cells average several seeds ("" with one seed)."""
    counts = [r["n_seeds"] for r in report["matrix"] if r["model"] == model and r["strategy"] == strategy]
    n = max(counts, default=1)
    return f" · mean of {n} seeds" if n > 1 else ""


def matrix(report: dict, model: str, strategy: str) -> Table:
    datasets, reference = report["datasets"], report["reference"]
    columns = datasets + ([reference] if reference else [])
    note = seed_note(report, model, strategy)
    table = Table(title=Text(f"{model} · {strategy}{note}", style="bold"), title_justify="left", show_edge=False,
                  pad_edge=False)
    table.add_column("fine-tuned on", no_wrap=True)
    notes = report.get("footnotes") or {}
    for c in columns:
        mark = ("*" if c == reference else "") + ("§" if c in notes else "")
        table.add_column(short(c) + mark, justify="right", no_wrap=True)
    table.add_column("RI [95% CI]", justify="right", no_wrap=True)

    pre_row = ["pretrained"]
    pre = {}
    for c in columns:
        r = lookup(report, "matrix", model=model, strategy=None, eval_dataset=c)
        pre[c] = r["accuracy"] if r else None
        pre_row.append("—" if r is None else f"{r['accuracy']:.1f}")
    table.add_row(*pre_row, "")
    full = max((r["n_seeds"] for r in report["matrix"] if r["model"] == model and r["strategy"] == strategy),
               default=1)
    for i in datasets:
        cells = [short(i)]
        for c in columns:
            r = lookup(report, "matrix", model=model, strategy=strategy, ft_dataset=i, eval_dataset=c)
            if r is None:
                cells.append(Text("—"))
                continue
            fewer = "†" if r["n_seeds"] < full else ""  # some seeds of this cell failed or are pending
            if c == i:
                gain = mean_of(report, "metrics", "value", metric="id-gain", model=model, strategy=strategy,
                               ft_dataset=i)
                delta = gain if gain is not None else float("nan")
                cells.append(Text(f"({r['accuracy']:.1f}){fewer}", style=_delta_style(delta)))
            else:
                delta = r["accuracy"] - pre[c] if pre.get(c) is not None else float("nan")
                cells.append(Text(f"{r['accuracy']:.1f}{fewer}", style=_delta_style(delta)))
        ri = lookup(report, "ri", model=model, strategy=strategy, ft_dataset=i)
        cells.append(Text(_fmt(ri["ri"], ri["ri_ci"]) if ri else "—",
                          style=_delta_style(ri["ri"]) if ri else ""))
        table.add_row(*cells)
    return table


def summary(report: dict) -> Table:
    table = Table(title="Summary (accuracy points)",
                  title_justify="left", show_edge=False, pad_edge=False)
    seeded = any(m.get("seed_sd") is not None for m in report["mri"])  # seed SD column only with >= 2 seeds
    for name, justify in (("model", "left"), ("strategy", "left"), ("mRI [95% CI]", "right"),
                          *((("seed SD", "right"),) if seeded else ()), ("Δ ref", "right"), ("ID gain", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for m in report["mri"]:
        forget = reference_change(report, m["model"], m["strategy"])
        gain = [r["value"] for r in report["metrics"] if r["metric"] == "id-gain"
                and r["model"] == m["model"] and r["strategy"] == m["strategy"]]
        sd = [f"{m['seed_sd']:.1f} ({len(m['seeds'])})" if m.get("seed_sd") is not None else "—"] if seeded else []
        table.add_row(Text(m["model"]), Text(m["strategy"]), Text(_fmt(m["mri"], m["mri_ci"]), style=_delta_style(m["mri"])),
                      *sd,
                      _fmt(sum(forget) / len(forget)) if forget else "—",
                      _fmt(sum(gain) / len(gain)) if gain else "—")
    return table


def reference_change(report: dict, model: str, strategy: str) -> list[float]:
    """The summary's Δ ref values (after - before on the reference set): from `ref-forgetting` (before - after,
    negated), else from the deprecated `forgetting` (after - before), whichever the suite's metrics computed."""
    rows = [r for r in report["metrics"] if r["model"] == model and r["strategy"] == strategy]
    forgot = [-r["value"] for r in rows if r["metric"] == "ref-forgetting"]
    return forgot or [r["value"] for r in rows if r["metric"] == "forgetting"]


def other_metrics(report: dict) -> Table | None:
    """Plugins' metrics, one line per (metric, model, strategy): the mean of its rows (all rows are in the JSON)."""
    rows = [r for r in report["metrics"] if r["metric"] not in ("ref-forgetting", "forgetting", "id-gain")
            and isinstance(r.get("value"), (int, float))]
    if not rows:
        return None
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["metric"], r["model"], r["strategy"] or "pretrained"), []).append(r["value"])
    table = Table(title="Other metrics (mean of each one's rows; all rows: --format json)",
                  title_justify="left", show_edge=False, pad_edge=False)
    for name, justify in (("metric", "left"), ("model", "left"), ("strategy", "left"), ("mean", "right"),
                          ("rows", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for (metric, model, strategy), values in groups.items():
        table.add_row(Text(metric), Text(model), Text(strategy), f"{sum(values) / len(values):.4g}", str(len(values)))
    return table


def fit_width(console: Console, renderable) -> None:
    """Off a terminal (a file, nohup, SLURM), widen the console to the content so that no number is cut.

    The width is COLUMNS (or 100) unless the content needs more; a terminal keeps its own width.
    """
    if console.is_terminal:
        return
    try:
        console.width = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        console.width = 100
    widen_to(console, renderable)


def widen_to(console: Console, renderable) -> None:
    """Off a terminal, widen the console if `renderable` needs more room than it has (never narrow it): for
    tables printed after the report, on the console fit_width already sized."""
    if console.is_terminal:
        return
    needed = console.measure(renderable, options=console.options.update_width(100_000)).maximum
    if needed > console.width:
        console.width = needed


def render(report: dict, console: Console | None = None) -> None:
    console = console or Console(width=100)
    parts = []
    for model in report["models"]:
        for strategy in report["strategies"]:
            if any(r["model"] == model and r["strategy"] == strategy for r in report["accuracies"]):
                parts.append(matrix(report, model, strategy))
                parts.append(Text(""))
    parts.append(summary(report))
    extra = other_metrics(report)
    if extra is not None:
        parts += [Text(""), extra]
    fit_width(console, Group(*parts))
    console.print(Group(*parts))
    seeds = report.get("seeds") or []
    seeded = (f" With several training seeds ({len(seeds)}: {', '.join(map(str, seeds))}), a matrix cell is the mean "
              "over the seeds that finished († fewer than all of them), RI and mRI are means over seeds, and "
              "intervals cover seeds and images." if len(seeds) > 1 else "")
    console.print(Text("Accuracy in %, top-1 on each dataset's classes. Rows: fine-tuning set; (x) = held-out "
                       "part of that set; * = reference set. Colour: change vs pretrained on the same images. "
                       "mRI = mean of RI_i; Δ ref = change on the reference set; ID gain = change on the held-out "
                       "part of the fine-tuning set." + seeded, style="dim"))
    render_shared_sources(report, console)
    if report["unreadable_images"]:
        counts = ", ".join(f"{k}: {v}" for k, v in report["unreadable_images"].items())
        console.print(f"[yellow]Unreadable images skipped[/] ({counts}).")
    render_state(report, console)
    for err in report["metric_errors"]:
        console.print(f"[red]{escape(err)}[/]")


def render_shared_sources(report: dict, console: Console) -> None:
    """The evaluation mode, and under "all"/"held-out" the columns whose images render the fine-tuning set's
    source images (marked §), with the fraction rib measured, and EWC's anchor where the run has EWC."""
    notes = report.get("footnotes") or {}
    if report.get("eval_images"):
        console.print(Text(f'Evaluated images: eval_images = "{report["eval_images"]}".', style="dim"))
    for column, text in notes.items():
        console.print(f"§ {short(column)}: {text}.", markup=False, highlight=False, soft_wrap=True)
    anchor = report.get("anchor_overlap")
    if anchor and any(s.split("[")[0] == "ewc" for s in report.get("strategies", [])):
        console.print(f"§ ewc: {anchor['footnote']}.", markup=False, highlight=False, soft_wrap=True)


def render_state(report: dict, console: Console) -> None:
    """What keeps the run from being complete, and what to do about each: failures (fix the cause), cells they
    block, pending cells (run again), earlier plans of the suite (how to see them)."""
    import shlex

    failures, not_run = report.get("failures", []), report.get("not_run", [])
    d = shlex.quote(report["results_dir"]) if report.get("results_dir") else "DIR"
    if failures:
        console.print(f"[red]{len(failures)} cell(s) failed[/] (their results are missing from the tables above):")
        for f in failures[:10]:
            console.print(f"  - {f['what']}: {f['error']}", markup=False, highlight=False, soft_wrap=True)
        if len(failures) > 10:
            console.print(f"  - ... and {len(failures) - 10} more")
        console.print(f"  Tracebacks: rib status {d}. Running again retries a failed cell, but a failure caused by "
                      "the suite (a diverging lr, a missing file) needs its cause fixed first.",
                      markup=False, highlight=False, soft_wrap=True)
    if not_run:
        console.print(f"[yellow]{len(not_run)} evaluation cell(s) were not run[/] because a cell they need failed "
                      "(see above); they run once it works.")
    if report.get("pending_cells"):
        console.print(f"[yellow]{report['pending_cells']} evaluation cell(s) have no result yet[/]; "
                      "run the same 'rib bench' command again to finish them.")
    for p in report.get("superseded", []):
        console.print(f"{p['cells']} finished cell(s) of an earlier plan of this suite are kept but not shown (the "
                      f"suite changed since): rib report {d} --suite {report.get('suite')} --plan {p['file']}",
                      markup=False, highlight=False, soft_wrap=True)


def write(report: dict, stream) -> None:
    """The `table` format's writer (`rib report --format table`, the default), for any text stream."""
    render(report, Console(file=stream, width=100))
