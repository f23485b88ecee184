"""The paper figures: files in every format, the expected panels and annotations, and no overlapping labels."""

import itertools

import numpy as np
import pytest

plt = pytest.importorskip("matplotlib.pyplot")

from rib_core.report import figures  # noqa: E402
from rib_core.report.build import seed_means  # noqa: E402

PAPER_MODELS = ["IN-1K+AugReg", "IN-1K+SAM", "IN-21K", "IN-21K-P", "IN-21K+AugReg", "OpenAI", "LAION-2B"]
PAPER_STRATEGIES = ["ft", "lp", "lp-ft", "lora", "ewc", "lwf", "wise-ft[0.5]", "visual-prompt"]
PAPER_DATASETS = ["imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch", "objectnet", "imagenet-cartoon",
                  "imagenet-drawing", "imagenet-c"]


def synthetic_report(models, strategies, datasets, reference="imagenet-val", seed=0) -> dict:
    rng = np.random.default_rng(seed)
    acc = []
    for m in models:
        acc += [{"model": m, "strategy": None, "ft_dataset": None, "eval_dataset": j, "accuracy": rng.uniform(20, 80)}
                for j in datasets + [reference]]
        acc += [{"model": m, "strategy": s, "ft_dataset": i, "eval_dataset": j, "accuracy": rng.uniform(5, 95)}
                for s in strategies for i in datasets for j in datasets + [reference]]
    mri = [{"model": m, "strategy": s, "mri": v, "mri_ci": [v - 1.5, v + 2]}
           for m in models for s in strategies for v in [float(rng.uniform(-30, 5))]]
    return {"datasets": datasets, "reference": reference, "models": models, "strategies": strategies,
            "accuracies": acc, "matrix": seed_means(acc), "mri": mri}


def overlapping_labels(fig) -> list:
    """Pairs of visible, non-empty texts (titles, tick labels, axis labels, legend) whose boxes intersect."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]
        boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text()]
    boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text()]  # suptitles
    for legend in fig.legends:
        boxes += [(t.get_text(), t.get_window_extent(renderer)) for t in legend.get_texts()]
    return [(a[0], b[0]) for a, b in itertools.combinations(boxes, 2) if a[1].overlaps(b[1])
            and a[1].width > 0 and b[1].width > 0]


# (7, 8): the paper's grid, 56 panels drawn and searched for overlapping labels (seconds): slow.
@pytest.mark.parametrize("shape", [(1, 2), pytest.param((7, 8), marks=pytest.mark.slow)])
def test_heatmaps_have_one_panel_per_model_and_strategy_with_values_and_no_overlaps(shape):
    n_models, n_strategies = shape
    datasets = PAPER_DATASETS if n_models > 1 else ["demo-photo", "demo-sketch", "demo-cartoon"]
    report = synthetic_report(PAPER_MODELS[:n_models], PAPER_STRATEGIES[:n_strategies], datasets)
    with plt.style.context(figures._style("paper")):
        fig = figures.heatmaps(report, plt)
        panels = [ax for ax in fig.axes if ax.images]
        assert len(panels) == n_models * n_strategies
        assert len(fig.axes) == len(panels) + 1  # one shared colour bar
        # Every cell annotated with its change, rounded: rows D_i, columns D_j and the reference set.
        first = panels[0]
        assert len(first.texts) == len(datasets) * (len(datasets) + 1)
        expected = figures.change_matrix(report, report["models"][0], report["strategies"][0])[0][1]
        assert first.texts[1].get_text() == f"{round(expected):+d}"
        assert {im.get_clim() for ax in panels for im in ax.images} == {panels[0].images[0].get_clim()}
        assert "(ref)" in first.get_xticklabels()[-1].get_text() or n_models > 1
        assert any("in-distribution" in t.get_text() for t in fig.legends[0].get_texts())
        assert overlapping_labels(fig) == []
        plt.close(fig)


@pytest.mark.parametrize("shape", [(1, 2), (7, 8)])
def test_mri_bars_are_sorted_with_whiskers_and_scatter_has_the_identity_line(shape):
    report = synthetic_report(PAPER_MODELS[:shape[0]], PAPER_STRATEGIES[:shape[1]], PAPER_DATASETS[:4])
    with plt.style.context(figures._style("paper")):
        fig = figures.mri_bars(report, plt)
        (ax,) = fig.axes
        widths = [p.get_width() for p in ax.patches]
        assert len(widths) == shape[0] * shape[1] and widths == sorted(widths)
        assert len(ax.containers) >= shape[0] * shape[1]  # bars and their error bars
        assert overlapping_labels(fig) == []
        plt.close(fig)
        fig = figures.scatter(report, plt)
        ax = fig.axes[0]
        diagonal = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert len(diagonal) == 1 and list(diagonal[0].get_xdata()) == list(diagonal[0].get_ydata())
        assert len(ax.containers) == shape[0] * shape[1]  # one point (with its whisker) per model x strategy
        assert overlapping_labels(fig) == []
        plt.close(fig)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_plot_writes_three_files_that_open(tmp_path, suffix):
    report = synthetic_report(PAPER_MODELS[:1], PAPER_STRATEGIES[:2], PAPER_DATASETS[:3])
    written = figures.write_figures(report, tmp_path / f"fig{suffix}")
    assert [p.name for p in written] == [f"fig{suffix}", f"fig-mri{suffix}", f"fig-scatter{suffix}"]
    for path in written:
        head = path.read_bytes()[:8]
        if suffix == ".png":
            assert head == b"\x89PNG\r\n\x1a\n" and plt.imread(path).shape[2] == 4
        elif suffix == ".pdf":
            assert head.startswith(b"%PDF")
        else:
            assert b"<svg" in path.read_bytes()[:2000]


def test_bad_plot_target_or_style_is_a_usage_error(tmp_path):
    from rib_core.errors import UsageError

    with pytest.raises(UsageError, match="png, .svg or .pdf"):
        figures.check_target(tmp_path / "fig.jpg", "paper")
    with pytest.raises(UsageError, match="not a file"):
        figures.check_target(tmp_path / "fig.png", "no-such-style")
