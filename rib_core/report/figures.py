"""Figures for a paper (matplotlib): accuracy-change heatmaps, mRI bars, and the pre-vs-post scatter.

`--plot FILE` writes three files next to each other: FILE (the heatmaps), FILE-mri and FILE-scatter, in FILE's
format (.png, .svg or .pdf). Text sizes come from a style (report/paper.mplstyle by default) and never shrink
with the grid: figures grow instead, and tick labels sit only on the outer panels, so labels cannot overlap.
"""

from __future__ import annotations

from pathlib import Path

from rib_core.errors import UsageError
from rib_core.report.terminal import short

FORMATS = (".png", ".svg", ".pdf")
CELL_IN = 0.27  # inches per heatmap cell: room for a "+12" at 5 pt


def check_target(path: Path, style: str) -> None:
    """Refuse a --plot target that cannot be written, before any work: its format, its folder, the style."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--plot writes .png, .svg or .pdf files, got '{path.name}'.")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise UsageError(f"--plot {path}: the folder '{folder}' {what}. Create it (mkdir -p {folder}) or write the "
                         "figures elsewhere.")
    _pyplot()
    _style(style)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'rib-core[plot]'") from None
    return plt


def _style(style: str):
    plt = _pyplot()
    if style == "paper":
        return str(Path(__file__).with_name("paper.mplstyle"))
    if Path(style).is_file() or style in plt.style.available:
        return style
    raise UsageError(f"--plot-style {style}: not a file and not one of matplotlib's styles "
                     f"(paper, {', '.join(sorted(plt.style.available)[:6])}, ...).")


def output_paths(path: Path) -> dict[str, Path]:
    return {"heatmaps": path, "mri": path.with_name(f"{path.stem}-mri{path.suffix}"),
            "scatter": path.with_name(f"{path.stem}-scatter{path.suffix}")}


def _accuracy(report: dict, model, strategy, ft_dataset, eval_dataset) -> float:
    """The report's value of one grid cell: the mean over its seeds (NaN when absent)."""
    for r in report["matrix"]:
        if (r["model"] == model and r["strategy"] == strategy and r["ft_dataset"] == ft_dataset
                and r["eval_dataset"] == eval_dataset):
            return r["accuracy"]
    return float("nan")


def pairs(report: dict) -> list[tuple[str, str]]:
    return [(m, s) for m in report["models"] for s in report["strategies"]
            if any(r["model"] == m and r["strategy"] == s for r in report["matrix"])]


def change_matrix(report: dict, model: str, strategy: str) -> list[list[float]]:
    """Rows: fine-tuned on D_i; columns: D_j then the reference set; value: accuracy change vs pretrained."""
    columns = report["datasets"] + ([report["reference"]] if report["reference"] else [])
    return [[_accuracy(report, model, strategy, i, j) - _accuracy(report, model, None, None, j) for j in columns]
            for i in report["datasets"]]


def heatmaps(report: dict, plt):
    import numpy as np
    from matplotlib.patches import Patch, Rectangle

    grid = pairs(report)
    models = [m for m in report["models"] if any(p[0] == m for p in grid)]
    strategies = [s for s in report["strategies"] if any(p[1] == s for p in grid)]
    datasets, reference = report["datasets"], report["reference"]
    columns = datasets + ([reference] if reference else [])
    values = {p: np.array(change_matrix(report, *p)) for p in grid}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] or [np.zeros(1)])
    vmax = max(5.0, float(np.ceil(np.abs(finite).max() / 5) * 5)) if finite.size else 5.0
    width = len(strategies) * (len(columns) * CELL_IN + 0.25) + 1.4
    height = len(models) * (len(datasets) * CELL_IN + 0.35) + 1.3
    fig, axes = plt.subplots(len(models), len(strategies), figsize=(width, height), squeeze=False,
                             layout="constrained")
    image = None
    for r, model in enumerate(models):
        for c, strategy in enumerate(strategies):
            ax = axes[r][c]
            data = values.get((model, strategy))
            if data is None:
                ax.set_axis_off()
                continue
            image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu", vmin=-vmax, vmax=vmax, aspect="equal")
            for i in range(len(datasets)):
                for j in range(len(columns)):
                    v = data[i, j]
                    if np.isfinite(v):
                        ax.text(j, i, f"{round(v):+d}", ha="center", va="center", fontsize=5,
                                color="white" if abs(v) > 0.6 * vmax else "black")
                if i < len(columns):  # in-distribution cell: held-out part of D_i, boxed
                    ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.0))
            if reference:
                ax.axvline(len(datasets) - 0.5, color="white", linewidth=2.5)
            ax.set_xticks(range(len(columns)),
                          [short(d) + (" (ref)" if d == reference else "") for d in columns] if r == len(models) - 1
                          else [], rotation=90)
            ax.set_yticks(range(len(datasets)), [short(d) for d in datasets] if c == 0 else [])
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_title(f"{model} · {strategy}" if len(models) > 1 else strategy)
            if r == len(models) - 1:
                ax.set_xlabel("evaluated on")
            if c == 0:
                ax.set_ylabel("fine-tuned on")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=min(1.0, max(0.3, 4.0 / height)), label="accuracy change vs pretrained (points)")
    fig.legend(handles=[Patch(facecolor="none", edgecolor="black", label="boxed: in-distribution (held-out part "
                              "of the fine-tuning set)"),
                        Patch(facecolor="none", edgecolor="none", label="ref: reference set (pretraining "
                              "distribution)")], loc="outside lower center", ncols=1)
    return fig


def mri_bars(report: dict, plt):
    rows = sorted([m for m in report["mri"] if m["mri"] is not None], key=lambda m: m["mri"])
    fig, ax = plt.subplots(figsize=(3.4, 0.8 + 0.16 * max(len(rows), 1)), layout="constrained")
    strategies = list(dict.fromkeys(m["strategy"] for m in rows))
    colours = {s: f"C{k % 10}" for k, s in enumerate(strategies)}
    for y, m in enumerate(rows):
        low, high = m["mri_ci"]
        ax.barh(y, m["mri"], color=colours[m["strategy"]], height=0.7)
        ax.errorbar(m["mri"], y, xerr=[[m["mri"] - low], [high - m["mri"]]], color="black", capsize=1.5,
                    linewidth=0.6)
    ax.set_yticks(range(len(rows)), [f"{m['model']} · {m['strategy']}" for m in rows])
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("mRI (points), 95% CI")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    return fig


def scatter(report: dict, plt):
    markers = "osD^vP*Xhp<>"
    datasets = report["datasets"]
    models = report["models"]
    strategies = list(dict.fromkeys(m["strategy"] for m in report["mri"]))
    legend_rows = len(models) + len(strategies) + 1
    ncols = 1 if legend_rows <= 14 else 2
    # Tall enough for the legend beside the plot: it must never run into the tick labels.
    fig, ax = plt.subplots(figsize=(3.4 + 0.9 * ncols, max(2.6, 0.5 + 0.13 * -(-legend_rows // ncols))),
                           layout="constrained")
    points = []
    for m in report["mri"]:
        if m["mri"] is None:
            continue
        before = _mean([_accuracy(report, m["model"], None, None, j) for j in datasets])
        after = before + m["mri"]
        points += [before, after]
        ax.errorbar(before, after, yerr=[[m["mri"] - m["mri_ci"][0]], [m["mri_ci"][1] - m["mri"]]],
                    fmt=markers[strategies.index(m["strategy"]) % len(markers)],
                    color=f"C{models.index(m['model']) % 10}", elinewidth=0.5, markeredgewidth=0.4,
                    markeredgecolor="black")
    if points:
        low, high = min(points) - 2, max(points) + 2
        ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=0.6)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
    ax.set_aspect("equal")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5, prune="lower"))  # the corner: x's first label meets y's
    ax.set_xlabel("avg OOD accuracy, pretrained (%)")
    ax.set_ylabel("avg OOD accuracy, fine-tuned (%)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="none", marker="s", color=f"C{k % 10}", label=model)
               for k, model in enumerate(models)]
    handles += [Line2D([], [], linestyle="none", marker=markers[k % len(markers)], color="grey", label=s)
                for k, s in enumerate(strategies)]
    handles.append(Line2D([], [], color="grey", linestyle="--", label="y = x (no change)"))
    fig.legend(handles=handles, loc="outside right upper", ncols=ncols)
    return fig


def drawable(report: dict) -> bool:
    """Whether the run has anything to draw: at least one fine-tuned (model, strategy) with RI rows."""
    return bool(report["mri"]) and bool(pairs(report))


def drawn(report: dict, style: str = "paper"):
    """Each figure of the report in `style`, as (name, matplotlib figure): "heatmaps", "mri", "scatter". A figure
    is closed once the loop moves on. What --plot saves and what the HTML page inlines (report/html.py)."""
    plt = _pyplot()
    with plt.style.context(_style(style)):
        for name, draw in (("heatmaps", heatmaps), ("mri", mri_bars), ("scatter", scatter)):
            fig = draw(report, plt)
            try:
                yield name, fig
            finally:
                plt.close(fig)


def write_figures(report: dict, path: Path, style: str = "paper") -> list[Path]:
    if not drawable(report):
        raise UsageError("--plot: this run has no fine-tuned results to draw yet (no RI rows). Run 'rib bench' "
                         "until at least one fine-tune and its evaluations are done, then plot.")
    written = []
    for name, fig in drawn(report, style):
        target = output_paths(path)[name]
        fig.savefig(target)
        written.append(target)
    return written
