"""`rib report DIR --compare A B`: the difference of RI_i and mRI between two strategies or two models, paired.

Paired means: the same test images and the same image resamples (bootstrap_means resamples a dataset the same
way every time), and the same training seeds where both sides have them; the seed resampling is applied to the
per-seed differences, so seed-to-seed noise shared by A and B cancels. A verdict is written only when the 95%
interval of the difference excludes 0.
"""

from __future__ import annotations

import numpy as np

from rib_core.errors import UsageError
from rib_core.metrics.replicates import combine, interval, seed_table


def _pairs(results, a: str, b: str) -> tuple[str, list[tuple[str, tuple, tuple]]]:
    """('strategies' | 'models', [(shared label, (model, strategy) of A, (model, strategy) of B)])."""
    if a == b:
        raise UsageError(f"--compare {a} {b}: compare two different strategies or models.")
    if a in results.strategies and b in results.strategies:
        return "strategies", [(m, (m, a), (m, b)) for m in results.models]
    if a in results.models and b in results.models:
        return "models", [(s, (a, s), (b, s)) for s in results.strategies]
    raise UsageError(f"--compare {a} {b}: name two strategies ({', '.join(results.strategies)}) or two models "
                     f"({', '.join(results.models)}) of this results directory.")


def _verdict(kind: str, a: str, b: str, diff: float, ci: list, where: str) -> str | None:
    if not (ci[0] > 0 or ci[1] < 0):
        return None
    better, worse = (a, b) if diff > 0 else (b, a)
    return f"{better} keeps more robustness than {worse} {where} ({abs(diff):.1f} points, 95% CI excludes 0)"


def compare(results, a: str, b: str) -> list[dict]:
    kind, pairs = _pairs(results, a, b)
    stats = {(s.model, s.strategy): s for s in seed_table(results)}
    rows = []
    for shared, key_a, key_b in pairs:
        sa, sb = stats.get(key_a), stats.get(key_b)
        if sa is None or sb is None:
            continue
        seeds = [s for s in sa.per_seed if s in sb.per_seed]
        if not seeds:
            continue
        base = {"kind": kind, "a": a, "b": b, ("model" if kind == "strategies" else "strategy"): shared,
                "seeds": seeds}
        per_i = {}
        for i in results.datasets:
            both = [s for s in seeds if i in sa.per_seed[s].ri and i in sb.per_seed[s].ri]
            if not both:
                continue
            per_i[i] = both
            diffs = [sa.per_seed[s].ri[i] - sb.per_seed[s].ri[i] for s in both]
            boot = combine(np.stack([sa.per_seed[s].boot[i] - sb.per_seed[s].boot[i] for s in both]))
            rows.append(_row(base, i, float(np.mean(diffs)), interval(boot), kind, a, b, f"after fine-tuning on {i}"))
        complete = [s for s in seeds if all(s in per_i.get(i, ()) for i in results.datasets)]
        if complete:
            diffs = [np.mean([sa.per_seed[s].ri[i] - sb.per_seed[s].ri[i] for i in results.datasets]) for s in complete]
            boot = combine(np.stack([np.mean([sa.per_seed[s].boot[i] - sb.per_seed[s].boot[i]
                                              for i in results.datasets], axis=0) for s in complete]))
            rows.append(_row(base, None, float(np.mean(diffs)), interval(boot), kind, a, b, "overall, on mRI"))
    if not rows:
        raise UsageError(f"--compare {a} {b}: no (model, strategy) pair has results for both yet.")
    return rows


def _row(base: dict, ft_dataset, diff: float, ci: list, kind, a, b, where) -> dict:
    return base | {"ft_dataset": ft_dataset, "metric": "ri" if ft_dataset else "mri", "difference": diff,
                   "ci": ci, "verdict": _verdict(kind, a, b, diff, ci, where)}


def render(rows: list[dict], console) -> None:
    from rich.table import Table
    from rich.text import Text

    first = rows[0]
    table = Table(title=f"{first['a']} minus {first['b']} (points; paired over images"
                        f"{' and seeds' if any(len(r['seeds']) > 1 for r in rows) else ''})",
                  title_justify="left", show_edge=False, pad_edge=False)
    fixed = "model" if first["kind"] == "strategies" else "strategy"
    for name, justify in ((fixed, "left"), ("fine-tuned on", "left"), ("difference [95% CI]", "right"),
                          ("seeds", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        style = "green" if r["ci"][0] > 0 else "red" if r["ci"][1] < 0 else ""
        table.add_row(r[fixed], r["ft_dataset"] or "mRI",
                      Text(f"{r['difference']:+.1f} [{r['ci'][0]:+.1f},{r['ci'][1]:+.1f}]", style=style),
                      str(len(r["seeds"])))
    console.print(table)
    if all(len(r["seeds"]) == 1 for r in rows):
        console.print("One training seed: these intervals cover test-image sampling only, not seed-to-seed "
                      "variance (set seeds = [0, 1, 2] in the suite).", style="dim")
    verdicts = [f"{r[fixed]}: {r['verdict']}." for r in rows if r["verdict"]]
    console.print("\n".join(verdicts) if verdicts else
                  "No difference whose 95% interval excludes 0: the data do not say which keeps more robustness.")
