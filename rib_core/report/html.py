"""The results page (`rib report DIR [DIR ...] --format html`): one self-contained HTML file a colleague can open
offline, months later, and trust.

It renders the report dict (rib_core/report/build.py) and nothing else, with the terminal's own formatting
(report/terminal.py: `_fmt`, `short`, `seed_note`, the colour thresholds) and the `--plot` figures
(report/figures.py: `drawn`) inlined as SVG, so every number is the one `--format json` holds, to the printed digit.

One file, no network: CSS and SVG inline, no fonts, no external script; a Content-Security-Policy that allows
nothing to be fetched says so to the browser too. Every number is in the HTML itself; the one small script
(report/page.js) only sorts and filters. The page is pure ASCII (other characters as references), so it prints
to any stdout.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from html import escape
from importlib import resources

from rib_core.report.build import lookup, mean_of
from rib_core.report.terminal import _delta_style, _fmt, seed_note, short

# The terminal's colour of a change, as a CSS class (same thresholds: report/terminal.py, _delta_style).
COLOUR = {"bold green": "gain-big", "green": "gain", "bold red": "loss-big", "red": "loss", "": ""}
FIGURES = {
    "heatmaps": ("Accuracy change against the pretrained model",
                 "Heatmaps, one per model and strategy: rows are the fine-tuning sets, columns the evaluated sets "
                 "(the last one the reference set); each cell is the accuracy change in points against the "
                 "pretrained model, blue for gains and red for losses; boxed cells are the held-out part of the "
                 "fine-tuning set. The numbers are in the accuracy matrices above."),
    "mri": ("mRI per model and strategy, sorted, with 95% intervals",
            "Horizontal bars of mRI in points, one per model and strategy, sorted from lowest to highest, with "
            "their 95% confidence intervals as error bars. The numbers are in the summary table above."),
    "scatter": ("Average OOD accuracy before and after fine-tuning",
                "Scatter plot: for each model and strategy, the average accuracy on the shifted datasets of the "
                "pretrained model (x) against that after fine-tuning (y), with the y = x line; points below it "
                "lost robustness. The numbers are in the summary and the matrices above."),
}


def _e(value) -> str:
    return escape(str(value), quote=True)


def _asset(name: str) -> str:
    return resources.files("rib_core.report").joinpath(name).read_text(encoding="utf-8")


# -- the page -------------------------------------------------------------------------------------------------
def write(report: dict, stream) -> None:
    """The `html` format's writer: the page of one report."""
    write_page([report], stream)


def write_page(reports: list[dict], stream) -> None:
    stream.write(page(reports))


def page(reports: list[dict], figures: bool = True) -> str:
    """The whole page, one section per report (several results directories or suites: each on its own)."""
    from rib_core import __version__

    script = "\n" + _asset("page.js")  # exactly what stands between <script> and </script>: the CSP hashes it
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    several = len(reports) > 1
    title = "rib results: " + (", ".join(_name(r) for r in reports) if several else _name(reports[0]))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        # Nothing may be fetched: the page is complete in itself (inline style and SVG; this one script).
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; img-src data:\">",
        f'<meta name="generator" content="rib {_e(__version__)}">',
        f"<title>{_e(title)}</title>",
        '<link rel="icon" href="data:,">',  # no request for /favicon.ico
        f"<style>\n{_asset('page.css')}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_e(title)}</h1>",
    ]
    if several:
        parts.append('<nav aria-label="reports"><ol>' + "".join(
            f'<li><a href="#r{n}">{_e(_name(r))}</a> ({_e(r.get("results_dir") or "")})</li>'
            for n, r in enumerate(reports, 1)) + "</ol></nav>")
    for n, report in enumerate(reports, 1):
        parts.append(section(report, f"r{n}", several, figures))
    parts += [
        "</main>",
        f"<footer><p>Written by rib {_e(__version__)} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. One "
        "file: it fetches nothing and needs no network. Sorting and filtering need JavaScript; every number is in "
        "the page without it.</p></footer>",
        f"<script>{script}</script>",
        "</body>",
        "</html>",
    ]
    return ("\n".join(parts) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def _name(report: dict) -> str:
    return f"suite {report.get('suite') or '(unnamed)'}"


def section(report: dict, rid: str, several: bool, figures: bool = True) -> str:
    """One report, in the order a reader needs it: what ran and its state, the summary, the matrices, seeds,
    comparisons, what is missing, figures, the suite as run, fingerprints, how to reproduce."""
    h = "h3" if several else "h2"  # under the page's h1, or under the report's own h2 when there are several
    parts = [f'<section class="report" id="{rid}" aria-label="{_e(_name(report))}">']
    if several:
        parts.append(f'<h2 class="report-title">{_e(_name(report))}</h2>')
    parts.append(header(report))
    parts.append(f'<{h} id="{rid}-summary">Summary</{h}>')
    parts.append(summary(report, rid))
    parts.append(f'<{h} id="{rid}-matrices">Accuracy matrices</{h}>')
    parts.append(matrices(report, rid))
    extra = other_metrics(report)
    if extra:
        parts.append(f'<{h} id="{rid}-metrics">Other metrics</{h}>')
        parts.append(extra)
    if len(report.get("seeds") or []) > 1:
        parts.append(f'<{h} id="{rid}-seeds">Training seeds</{h}>')
        parts.append(seeds(report))
    if report.get("comparisons") is not None:
        parts.append(f'<{h} id="{rid}-compare">Paired comparison (--compare)</{h}>')
        parts.append(comparisons(report))
    if report.get("against") is not None:
        parts.append(f'<{h} id="{rid}-against">Against the paper (--against paper)</{h}>')
        parts.append(against(report))
    state = run_state(report)
    if state:
        parts.append(f'<{h} id="{rid}-state">What is missing</{h}>')
        parts.append(state)
    if figures:
        parts.append(f'<{h} id="{rid}-figures">Figures</{h}>')
        parts.append(figure_section(report, rid))
    parts.append(f'<{h} id="{rid}-suite">The suite as run</{h}>')
    parts.append(suite_as_run(report))
    parts.append(f'<{h} id="{rid}-fingerprints">Fingerprints</{h}>')
    parts.append(fingerprints(report))
    parts.append(f'<{h} id="{rid}-reproduce">How to reproduce</{h}>')
    parts.append(reproduce(report))
    parts.append("</section>")
    return "\n".join(parts)


# -- header ---------------------------------------------------------------------------------------------------
def header(report: dict) -> str:
    run = report.get("run") or {}
    counts = report.get("cell_counts") or {}
    status = report.get("status") or "unknown"
    rows = [("Status", f'<span class="status {"ok" if status == "complete" else "warn"}">{_e(status)}</span>'
             + (" (" + _e(", ".join(f"{v} {k}" for k, v in counts.items() if v)) + " cells)" if counts else ""))]
    rows.append(("Results", f"<code>{_e(report.get('results_dir') or '')}</code>"))
    if run.get("planned_at"):
        rows.append(("Planned", _e(run["planned_at"])))
    if run.get("command"):
        rows.append(("Command", f"<code>{_e(run['command'])}</code>"))
    elif run.get("source"):
        rows.append(("Suite file", f"<code>{_e(run['source'])}</code> (the command was not recorded)"))
    rows.append(("Evaluated on", _e(_eval_images(report.get("eval_images")))))
    seeds = report.get("seeds") or []
    rows.append(("Training seeds", _e(", ".join(map(str, seeds)) or "—")))
    datasets = report.get("datasets") or []
    rows.append(("Datasets", _e(", ".join(datasets)) + (f"; reference: {_e(report['reference'])}"
                                                        if report.get("reference") else "")))
    versions = run.get("versions") or {}
    if versions:
        rows.append(("Versions", _e(", ".join(f"{k} {' / '.join(v)}" for k, v in versions.items()))))
    return ('<dl class="run">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>")


def _eval_images(mode) -> str:
    """The suite's eval_images, and what it means for the matrices' off-diagonal cells (docs/suites.md)."""
    meaning = {"all": "every image of the other datasets (the paper's protocol)",
               "held-out": "only the held-out parts of the other datasets",
               "held-out-sources": "only images of source images held out from every fine-tune"}
    if mode is None:
        return "not recorded (a run from before rib recorded eval_images)"
    return (f'eval_images = "{mode}": {meaning.get(mode, "see docs/suites.md")}; the fine-tuning set itself: its '
            "held-out part")



# -- summary --------------------------------------------------------------------------------------------------
def summary(report: dict, rid: str) -> str:
    rows = report.get("mri") or []
    if not rows:
        return "<p>No fine-tuned results yet: the summary appears once a fine-tune and its evaluations are done.</p>"
    seeded = any(m.get("seed_sd") is not None for m in rows)  # as the terminal: the SD column with >= 2 seeds
    heads = [("model", "text"), ("strategy", "text"), ("mRI [95% CI]", "number")]
    if seeded:
        heads.append(("seed SD (seeds)", "number"))
    heads += [("&Delta; ref", "number"), ("ID gain", "number")]
    out = [f'<div class="scroll"><table class="summary sortable" id="{rid}-summary-table">',
           "<caption>mRI and the other headline numbers, accuracy points. Highest mRI first; with JavaScript, "
           "click a column to sort by it.</caption>",
           "<thead><tr>" + "".join(f'<th scope="col" data-sort="{kind}"{_left(kind)}>{name}</th>'
                                  for name, kind in heads) + "</tr></thead><tbody>"]
    # Best first without JavaScript; a run without mRI for a pair (no RI yet) goes last.
    ordered = sorted(rows, key=lambda m: (m["mri"] is None or m["mri"] != m["mri"], -(m["mri"] or 0)))
    for m in ordered:
        model, strategy = m["model"], m["strategy"]
        ref = mean_of(report, "metrics", "value", metric="forgetting", model=model, strategy=strategy)
        gain = mean_of(report, "metrics", "value", metric="id-gain", model=model, strategy=strategy)
        cells = [f'<th scope="row" class="text">{_e(model)}</th>', f'<td class="text">{_e(strategy)}</td>',
                 f'<td data-col="mri"{_class(COLOUR[_delta_style(m["mri"])] if m["mri"] is not None else "")}>'
                 f'{_e(_fmt(m["mri"], m.get("mri_ci")))}</td>']
        if seeded:
            sd = f"{m['seed_sd']:.1f} ({len(m['seeds'])})" if m.get("seed_sd") is not None else "—"
            cells.append(f'<td data-col="seed-sd">{_e(sd)}</td>')
        cells += [f'<td data-col="ref">{_e(_fmt(ref) if ref is not None else "—")}</td>',
                  f'<td data-col="id-gain">{_e(_fmt(gain) if gain is not None else "—")}</td>']
        out.append(f'<tr data-model="{_e(model)}" data-strategy="{_e(strategy)}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.append("<p class=\"note\">mRI = mean of RI_i over the fine-tuning sets; &Delta; ref = change on the "
               "reference set; ID gain = change on the held-out part of the fine-tuning set. Brackets: 95% "
               "bootstrap intervals (docs/guide.md, \"How to read and report the numbers\").</p>")
    return "\n".join(out)


def _left(kind: str) -> str:
    return ' class="text"' if kind == "text" else ""


# -- matrices -------------------------------------------------------------------------------------------------
def pairs_with_results(report: dict) -> list[tuple[str, str]]:
    """The (model, strategy) pairs with any accuracy, in suite order (the terminal report's matrices)."""
    return [(m, s) for m in report["models"] for s in report["strategies"]
            if any(r["model"] == m and r["strategy"] == s for r in report["accuracies"])]


def _shared_sources(report: dict) -> dict[tuple[str, str], float]:
    """{(fine-tuning set, evaluated set): fraction of shared source images} from `shared_sources` (issue 31),
    only where the fraction is above zero; {} when the report has none."""
    out = {}
    for entry in report.get("shared_sources") or []:
        fraction = entry.get("fraction")
        if isinstance(fraction, (int, float)) and fraction > 0:
            out[(entry.get("ft_dataset"), entry.get("eval_dataset"))] = float(fraction)
    return out


def matrices(report: dict, rid: str) -> str:
    pairs = pairs_with_results(report)
    if not pairs:
        return "<p>No evaluation has finished yet.</p>"
    out = [matrix(report, model, strategy, f"{rid}-m{n}") for n, (model, strategy) in enumerate(pairs, 1)]
    seeds = report.get("seeds") or []
    seeded = (f" With several training seeds ({len(seeds)}: {', '.join(map(str, seeds))}), a cell is the mean "
              "over the seeds that finished, SD its seed SD (&dagger;: fewer than all of them finished), and RI "
              "and mRI are means over seeds whose intervals cover seeds and images." if len(seeds) > 1 else "")
    out.append("<p class=\"note\">Accuracy in %, top-1 on each dataset's classes. Rows: fine-tuning set; (x) = "
               "held-out part of that set; * = reference set. Colour: change against the pretrained model on the "
               f"same images (green: gain, red: loss; strong colour: 5 points or more).{seeded}</p>")
    return "\n".join(out)


def matrix(report: dict, model: str, strategy: str, tid: str) -> str:
    datasets, reference = report["datasets"], report["reference"]
    columns = datasets + ([reference] if reference else [])
    shared = _shared_sources(report)
    notes = {}  # evaluated set -> footnote number, for the columns that share source images with a fine-tuning set
    for (_, ev), _f in shared.items():
        if ev in columns and ev not in notes:
            notes[ev] = len(notes) + 1
    full = max((r["n_seeds"] for r in report["matrix"] if r["model"] == model and r["strategy"] == strategy),
               default=1)
    head = ['<th scope="col" class="text">fine-tuned on</th>']
    for c in columns:
        mark = "*" if c == reference else ""
        note = (f'<sup><a href="#{tid}-n{notes[c]}" aria-label="footnote {notes[c]}">{notes[c]}</a></sup>'
                if c in notes else "")
        head.append(f'<th scope="col" data-eval="{_e(c)}"><abbr title="{_e(c)}">{_e(short(c))}</abbr>{mark}{note}</th>')
    seeded = full > 1
    head.append('<th scope="col">RI [95% CI]</th>' + ('<th scope="col">RI seed SD</th>' if seeded else ""))
    out = [f'<div class="matrix-block" id="{tid}" data-model="{_e(model)}" data-strategy="{_e(strategy)}">',
           '<div class="scroll">',
           f'<table class="matrix" data-model="{_e(model)}" data-strategy="{_e(strategy)}">',
           f"<caption>{_e(model)} &middot; {_e(strategy)}{_e(seed_note(report, model, strategy))}</caption>",
           "<thead><tr>" + "".join(head) + "</tr></thead><tbody>"]
    pre = {}
    row = ['<th scope="row" class="text">pretrained</th>']
    for c in columns:
        r = lookup(report, "matrix", model=model, strategy=None, eval_dataset=c)
        pre[c] = r["accuracy"] if r else None
        row.append(f'<td data-eval="{_e(c)}">{"—" if r is None else format(r["accuracy"], ".1f")}</td>')
    row.append("<td></td>" + ("<td></td>" if seeded else ""))
    out.append('<tr data-ft="" class="pretrained">' + "".join(row) + "</tr>")
    for i in datasets:
        row = [f'<th scope="row" class="text"><abbr title="{_e(i)}">{_e(short(i))}</abbr></th>']
        for c in columns:
            r = lookup(report, "matrix", model=model, strategy=strategy, ft_dataset=i, eval_dataset=c)
            if r is None:
                row.append(f'<td data-eval="{_e(c)}">—</td>')
                continue
            fewer = "&dagger;" if r["n_seeds"] < full else ""  # some seeds of this cell failed or are pending
            if c == i:
                gain = mean_of(report, "metrics", "value", metric="id-gain", model=model, strategy=strategy,
                               ft_dataset=i)
                delta = gain if gain is not None else float("nan")
                text, extra = f"({r['accuracy']:.1f})", ' title="held-out part of the fine-tuning set"'
            else:
                delta = r["accuracy"] - pre[c] if pre.get(c) is not None else float("nan")
                text, extra = f"{r['accuracy']:.1f}", ""
            sd = (f'<small class="sd">SD {r["seed_sd"]:.1f}</small>'
                  if r.get("n_seeds", 1) > 1 and r.get("seed_sd") is not None else "")
            classes = _class(COLOUR[_delta_style(delta)], "held-out" if c == i else "")
            row.append(f'<td data-eval="{_e(c)}"{extra}{classes}><span class="v">{_e(text)}</span>{fewer}{sd}</td>')
        ri = lookup(report, "ri", model=model, strategy=strategy, ft_dataset=i)
        colour = COLOUR[_delta_style(ri["ri"])] if ri and ri["ri"] is not None else ""
        row.append(f'<td data-col="ri"{_class(colour)}>'
                   f'{_e(_fmt(ri["ri"], ri["ri_ci"]) if ri else "—")}</td>')
        if seeded:
            sd = format(ri["seed_sd"], ".1f") if ri and ri.get("seed_sd") is not None else "—"
            row.append(f'<td data-col="ri-sd">{sd}</td>')
        out.append(f'<tr data-ft="{_e(i)}">' + "".join(row) + "</tr>")
    out.append("</tbody></table></div>")
    if notes:
        out.append('<ol class="footnotes">')
        for ev, n in notes.items():
            which = ", ".join(f"{short(ft)}: {_percent(f)}" for (ft, e), f in shared.items() if e == ev)
            out.append(f'<li id="{tid}-n{n}" value="{n}">{_e(ev)} shares source images with the fine-tuning set '
                       f'(share of its evaluated images that are renditions of the fine-tuning images, by '
                       f'fine-tuning set: {_e(which)}): use eval_images = "held-out-sources" for a clean '
                       "claim.</li>")
        out.append("</ol>")
    out.append("</div>")
    return "\n".join(out)


def _class(*names: str) -> str:
    """ class="a b" for the names that are not empty; "" when all are."""
    names = [n for n in names if n]
    return f' class="{" ".join(names)}"' if names else ""


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.0f}%" if fraction >= 0.01 else f"{100 * fraction:.2f}%"


# -- plugins' metrics, seeds -----------------------------------------------------------------------------------
def other_metrics(report: dict) -> str:
    """Plugins' metrics, one row per (metric, model, strategy): the mean of its rows, as the terminal shows."""
    keys = list(dict.fromkeys((r["metric"], r["model"], r["strategy"]) for r in report.get("metrics") or []
                              if r["metric"] not in ("forgetting", "id-gain")
                              and isinstance(r.get("value"), (int, float))))
    if not keys:
        return ""
    out = ['<div class="scroll"><table class="sortable metrics">',
           "<caption>Other metrics: the mean of each one's rows (every row: --format json)</caption>",
           '<thead><tr><th scope="col" class="text" data-sort="text">metric</th>'
           '<th scope="col" class="text" data-sort="text">model</th>'
           '<th scope="col" class="text" data-sort="text">strategy</th>'
           '<th scope="col" data-sort="number">mean</th><th scope="col" data-sort="number">rows</th></tr></thead>'
           "<tbody>"]
    for metric, model, strategy in keys:
        rows = [r for r in report["metrics"] if r["metric"] == metric and r["model"] == model
                and r["strategy"] == strategy and isinstance(r.get("value"), (int, float))]
        mean = mean_of(report, "metrics", "value", metric=metric, model=model, strategy=strategy)
        out.append(f'<tr data-model="{_e(model)}" data-strategy="{_e(strategy or "pretrained")}">'
                   f'<th scope="row" class="text">{_e(metric)}</th><td class="text">{_e(model)}</td>'
                   f'<td class="text">{_e(strategy or "pretrained")}</td><td>{mean:.4g}</td><td>{len(rows)}</td></tr>')
    out.append("</tbody></table></div>")
    return "\n".join(out)


def seeds(report: dict) -> str:
    seeds = report["seeds"]
    out = [f"<p>Trained with {len(seeds)} seeds ({_e(', '.join(map(str, seeds)))}). Matrix cells are the mean over "
           "the seeds that finished, with their SD; RI and mRI are means over seeds, and their intervals cover "
           "both the seeds and the test images (a two-stage bootstrap, docs/protocol.md). The summary's seed SD "
           "is the SD of mRI over the seeds.</p>"]
    partial = [m for m in report.get("mri") or [] if m.get("seeds") is not None and len(m["seeds"]) < len(seeds)]
    if partial:
        out.append("<p>Fewer seeds than planned: " + _e("; ".join(
            f"{m['model']} / {m['strategy']}: {len(m['seeds'])} of {len(seeds)} ({', '.join(map(str, m['seeds']))})"
            for m in partial)) + ".</p>")
    return "\n".join(out)


# -- --compare, --against -------------------------------------------------------------------------------------
def comparisons(report: dict) -> str:
    rows = report["comparisons"] or []
    if not rows:
        return "<p>No pair has results for both sides yet.</p>"
    first = rows[0]
    fixed = "model" if first.get("kind") == "strategies" else "strategy"
    out = ['<div class="scroll"><table class="compare">',
           f"<caption>{_e(first.get('a'))} minus {_e(first.get('b'))} (points; paired over images"
           f"{' and seeds' if any(len(r.get('seeds') or []) > 1 for r in rows) else ''})</caption>",
           f'<thead><tr><th scope="col" class="text">{fixed}</th><th scope="col" class="text">fine-tuned on</th>'
           '<th scope="col">difference [95% CI]</th><th scope="col">seeds</th>'
           '<th scope="col" class="text">verdict</th></tr></thead><tbody>']
    for r in rows:
        ci = r.get("ci")
        colour = "gain" if ci and ci[0] > 0 else "loss" if ci and ci[1] < 0 else ""
        out.append(f'<tr><th scope="row" class="text">{_e(r.get(fixed))}</th>'
                   f'<td class="text">{_e(r.get("ft_dataset") or "mRI")}</td>'
                   f'<td data-col="difference" class="{colour}">{_e(_fmt(r["difference"], ci))}</td>'
                   f'<td>{len(r.get("seeds") or [])}</td><td class="text wrap">{_e(r.get("verdict") or "")}</td></tr>')
    out.append("</tbody></table></div>")
    if not any(r.get("verdict") for r in rows):
        out.append("<p>No difference whose 95% interval excludes 0: the data do not say which keeps more "
                   "robustness.</p>")
    return "\n".join(out)


def against(report: dict) -> str:
    rows = report["against"] or []
    out = ['<div class="scroll"><table class="against">',
           "<caption>The paper (figure-read, about &plusmn;1 point) next to rib (accuracy %, 95% CI)</caption>",
           '<thead><tr><th scope="col" class="text">table</th><th scope="col" class="text">backbone</th>'
           '<th scope="col" class="text">quantity</th><th scope="col">paper</th><th scope="col">rib [95% CI]</th>'
           '<th scope="col">rib &minus; paper</th></tr></thead><tbody>']
    for r in rows:
        ci = f" [{r['ci'][0]:.1f},{r['ci'][1]:.1f}]" if r.get("ci") else ""
        out.append(f'<tr><td class="text">{_e(r.get("table"))}</td><th scope="row" class="text">{_e(r.get("model"))}'
                   f'</th><td class="text wrap">{_e(r.get("what"))}</td><td>{r["paper"]:.1f}</td>'
                   f'<td>{r["rib"]:.1f}{_e(ci)}</td><td>{r["difference"]:+.1f}</td></tr>')
    out.append("</tbody></table></div>")
    out.append("<p class=\"note\">Why they differ: docs/results.md (rib's split, ObjectNet scoring, bf16; the paper "
               "pools strategies and was read by eye).</p>")
    return "\n".join(out)


# -- what keeps the run from being complete ---------------------------------------------------------------------
def run_state(report: dict) -> str:
    failures, not_run = report.get("failures") or [], report.get("not_run") or []
    d = report.get("results_dir") or "DIR"
    out = []
    if failures:
        out.append(f'<div class="failures"><p><strong class="loss">{len(failures)} cell(s) failed</strong> (their '
                   "results are missing from the tables above):</p><ul>")
        out += [f'<li class="failure" data-kind="{_e(f["kind"])}"><span class="what">{_e(f["what"])}</span>: '
                f'<code class="error">{_e(f["error"])}</code></li>' for f in failures]
        out.append(f"</ul><p>Tracebacks: <code>rib status {_e(d)}</code>. Running again retries a failed cell, but "
                   "a failure caused by the suite (a diverging lr, a missing file) needs its cause fixed first.</p>"
                   "</div>")
    if not_run:
        out.append(f"<details><summary>{len(not_run)} evaluation cell(s) were not run because a cell they need "
                   "failed</summary><ul>" + "".join(f"<li>{_e(c['what'])}: {_e(c['because'])}</li>" for c in not_run)
                   + "</ul></details>")
    counts = report.get("cell_counts") or {}
    if counts.get("in progress"):
        out.append(f"<p>{counts['in progress']} cell(s) are in progress (another process holds them).</p>")
    if report.get("pending_cells"):
        out.append(f'<p class="pending"><strong>{report["pending_cells"]} evaluation cell(s) have no result yet'
                   "</strong>; run the same 'rib bench' command again to finish them.</p>")
    for p in report.get("superseded") or []:
        out.append(f"<p>{p['cells']} finished cell(s) of an earlier plan of this suite are kept but not shown (the "
                   f"suite changed since): <code>rib report {_e(d)} --suite {_e(report.get('suite'))} --plan "
                   f"{_e(p['file'])}</code></p>")
    if report.get("unreadable_images"):
        out.append("<p>Unreadable images skipped (" + _e(", ".join(
            f"{k}: {v}" for k, v in report["unreadable_images"].items())) + ").</p>")
    out += [f'<p class="loss">{_e(err)}</p>' for err in report.get("metric_errors") or []]
    return "\n".join(out)


# -- figures ---------------------------------------------------------------------------------------------------
def figure_section(report: dict, rid: str) -> str:
    from rib_core.errors import UsageError
    from rib_core.report import figures

    if not figures.drawable(report):
        return "<p>No figures yet: they need at least one fine-tune with its evaluations.</p>"
    try:
        drawn = list(svg_figures(report, rid))
    except UsageError as exc:  # matplotlib is an optional dependency
        return f"<p>No figures: {_e(exc)}</p>"
    out = []
    for name, svg in drawn:
        caption, alt = FIGURES[name]
        out.append(f'<figure class="figure" id="{rid}-fig-{name}">{_alt(svg, f"{rid}-fig-{name}", alt)}'
                   f"<figcaption>{_e(caption)} (<code>--plot</code> writes the same figure)</figcaption></figure>")
    return "\n".join(out)


def svg_figures(report: dict, rid: str):
    """(name, inline SVG) of each --plot figure (report/figures.py draws them), with ids made unique per page."""
    import matplotlib

    from rib_core.report.figures import drawn

    with matplotlib.rc_context({"svg.hashsalt": "rib", "svg.fonttype": "path"}):  # same figure, same bytes
        for name, fig in drawn(report):
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})
            yield name, _inline(buffer.getvalue(), f"{rid}-{name}-")


SCREEN_SCALE = 1.5  # paper figures (5-7 pt text) drawn 1.5x on screen; never wider than the page (CSS)


def _inline(svg: str, prefix: str) -> str:
    """A standalone SVG file as an element of the page: no XML prolog or doctype, every id prefixed (several
    figures on one page must not share ids), SCREEN_SCALE times its paper size (its viewBox keeps the drawing)."""
    svg = svg[svg.index("<svg"):]
    head = svg[:svg.index(">")]
    for name in ("width", "height"):
        found = re.search(rf'\b{name}="([0-9.]+)pt"', head)
        if found:
            svg = svg.replace(found.group(0), f'{name}="{float(found.group(1)) * SCREEN_SCALE:.1f}pt"', 1)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)


def _alt(svg: str, fid: str, alt: str) -> str:
    """The figure's alternative text: role="img" with a <title> and <desc> that screen readers announce."""
    head_end = svg.index(">") + 1
    opening = svg[:head_end].replace("<svg", f'<svg role="img" aria-labelledby="{fid}-alt"', 1)
    return opening + f'<title id="{fid}-alt">{_e(alt)}</title>' + svg[head_end:]


# -- the suite as run, fingerprints, how to reproduce -----------------------------------------------------------
def suite_text_of(report: dict) -> str | None:
    """The suite as run as a suite file (TOML), or None when the run did not record it."""
    from rib_core.config import suite_text

    table = (report.get("run") or {}).get("suite_table")
    if not table:
        return None
    try:
        return suite_text(report.get("suite") or "suite", {k: v for k, v in table.items() if k != "training"},
                          table.get("training") or {})
    except TypeError:  # a value TOML cannot hold: show the table as recorded
        import json

        return json.dumps(table, indent=1)


def suite_as_run(report: dict) -> str:
    text = suite_text_of(report)
    if text is None:
        return "<p>Not recorded (a run from before rib recorded the suite in its manifest).</p>"
    return ("<p>After --weights, --data-root and the installed plugins were applied: save it as "
            "<code>suite.toml</code> to run it again.</p>"
            f'<pre class="toml"><code>{_e(text)}</code></pre>')


def fingerprints(report: dict) -> str:
    prints = (report.get("run") or {}).get("fingerprints")
    if not prints:
        return ("<p>Not recorded (a run from before rib recorded them). <code>rib datasets check --digest "
                "FILE</code> records the data's digests.</p>")
    models = prints.get("models") or {}
    digests = any(m.get("weights_digest") for m in models.values())  # the weights file's own digest, if recorded
    out = ['<div class="scroll"><table class="fingerprints">', "<caption>Models: what each label stood for</caption>",
           '<thead><tr><th scope="col" class="text">label</th><th scope="col" class="text">name</th>'
           '<th scope="col" class="text">weights</th>'
           + ('<th scope="col" class="text">weights digest</th>' if digests else "")
           + '<th scope="col" class="text">fingerprint</th></tr></thead><tbody>']
    for label, m in models.items():
        digest = f'<td class="text"><code>{_e(m.get("weights_digest") or "")}</code></td>' if digests else ""
        weights = m.get("weights") or "the loader's own (no file)"
        out.append(f'<tr><th scope="row" class="text">{_e(label)}</th><td class="text">{_e(m.get("name") or "")}</td>'
                   f'<td class="text wrap">{_e(weights)}</td>{digest}'
                   f'<td class="text"><code>{_e(m.get("fingerprint") or "")}</code></td></tr>')
    out.append("</tbody></table></div>")
    out += ['<div class="scroll"><table class="fingerprints">', "<caption>Datasets: what each label stood for"
            "</caption>", '<thead><tr><th scope="col" class="text">label</th><th scope="col" class="text">adapter'
            '</th><th scope="col">images</th><th scope="col" class="text">fingerprint</th>'
            '<th scope="col" class="text">folder</th></tr></thead><tbody>']
    for label, d in (prints.get("datasets") or {}).items():
        images = d.get("images")
        out.append(f'<tr><th scope="row" class="text">{_e(label)}</th><td class="text">{_e(d.get("adapter") or "")}'
                   f'</td><td>{_e(f"{images:,}" if isinstance(images, int) else "—")}</td>'
                   f'<td class="text"><code>{_e(d.get("fingerprint") or "")}</code></td>'
                   f'<td class="text wrap">{_e(d.get("root") or "")}</td></tr>')
    out.append("</tbody></table></div>")
    out.append("<p class=\"note\">A model's fingerprint covers its weights file's digest, its plugin and options; a "
               "dataset's covers its adapter, its list of images and their labels. Equal fingerprints: the same "
               "model, the same images.</p>")
    return "\n".join(out)


def reproduce(report: dict) -> str:
    run = report.get("run") or {}
    versions = run.get("versions") or {}
    suite = report.get("suite") or "SUITE"
    lines = []
    pins = [f"{'rib-core' if k == 'rib' else k}=={v[0]}" for k, v in versions.items()
            if k != "python" and len(v) == 1]
    if pins:
        lines.append("# the versions that computed these results" +
                     (f" (python {', '.join(versions['python'])})" if versions.get("python") else ""))
        lines.append("pip install " + " ".join(pins))
    several = {k: v for k, v in versions.items() if len(v) > 1}
    if several:
        lines.append("# computed by several installations: "
                     + "; ".join(f"{k} {', '.join(v)}" for k, v in several.items()))
    if suite_text_of(report) is not None:
        lines.append("# suite.toml: the suite as run (above)")
        lines += [f"rib datasets check -c suite.toml --suite {suite}",
                  f"rib bench -c suite.toml --suite {suite} --out results",
                  "rib report results --format html -o results.html"]
    if run.get("command"):
        lines.append(f"# as it was run: {run['command']}")
    text = "\n".join(lines)
    return f'<pre class="reproduce"><code>{_e(text)}</code></pre>'
