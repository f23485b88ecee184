"""Plots (matplotlib, an optional extra): RI heatmaps and the paper's pre-vs-post average OOD accuracy chart."""

from __future__ import annotations

from pathlib import Path

from rib_core.errors import UsageError
from rib_core.report.build import lookup
from rib_core.report.terminal import short


def plot(report: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'rib-core[plot]'") from None
    if path.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--plot writes .png or .svg files, got '{path.name}'.")
    datasets = report["datasets"]
    pairs = [(m["model"], m["strategy"]) for m in report["mri"]] or \
        sorted({(r["model"], r["strategy"]) for r in report["accuracies"] if r["strategy"]})
    cols = max(1, min(3, len(pairs)))
    rows = -(-len(pairs) // cols) + 1
    fig = plt.figure(figsize=(4.2 * cols, 3.6 * rows))
    for k, (model, strategy) in enumerate(pairs):
        ax = fig.add_subplot(rows, cols, k + 1)
        grid = [[float("nan")] * len(datasets) for _ in datasets]
        for i, di in enumerate(datasets):
            for j, dj in enumerate(datasets):
                post = lookup(report, "accuracies", model=model, strategy=strategy, ft_dataset=di, eval_dataset=dj)
                pre = lookup(report, "accuracies", model=model, strategy=None, eval_dataset=dj)
                if post and pre and i != j:
                    grid[i][j] = post["accuracy"] - pre["accuracy"]
        im = ax.imshow(grid, cmap="RdYlGn", vmin=-30, vmax=30)
        ax.set_xticks(range(len(datasets)), [short(d) for d in datasets], rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(datasets)), [short(d) for d in datasets], fontsize=7)
        ax.set_title(f"{model} · {strategy}", fontsize=8)
        ax.set_xlabel("evaluated on", fontsize=7)
        ax.set_ylabel("fine-tuned on", fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, label="Δ accuracy (points)")
    # Pre vs post average OOD accuracy per backbone (the paper's headline chart), for each strategy.
    ax = fig.add_subplot(rows, 1, rows)
    models = report["models"]
    strategies = sorted({s for _, s in pairs})
    width = 0.8 / (1 + len(strategies))
    for s_idx, strategy in enumerate([None] + strategies):
        values = []
        for model in models:
            accs = []
            for i in datasets:
                for j in datasets:
                    if i == j:
                        continue
                    if strategy is None:
                        r = lookup(report, "accuracies", model=model, strategy=None, eval_dataset=j)
                    else:
                        r = lookup(report, "accuracies", model=model, strategy=strategy, ft_dataset=i, eval_dataset=j)
                    if r:
                        accs.append(r["accuracy"])
            values.append(sum(accs) / len(accs) if accs else 0)
        ax.bar([x + s_idx * width for x in range(len(models))], values, width,
               label="pretrained" if strategy is None else f"after {strategy}")
    ax.set_xticks([x + width * len(strategies) / 2 for x in range(len(models))], models, fontsize=8)
    ax.set_ylabel("avg OOD accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
