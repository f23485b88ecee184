"""`rib report DIR --compare A B`: the difference of RI_i and mRI between two strategies or two models, paired.

Paired means: the same test images and the same image resamples (bootstrap_means resamples a dataset the same
way every time), and the same training seeds where both sides have them; the seed component of the interval is
computed on the per-seed differences, so seed-to-seed noise shared by A and B cancels.

Which rows may claim a difference: mRI is the primary claim, one test per model (or strategy), not corrected: a
verdict when its 1 - alpha interval excludes 0. The RI_i rows of one model (one strategy, comparing models) are a
family of N tests, corrected with Holm's step-down (Holm-Bonferroni): sort their p-values p_(1) <= ... <= p_(N);
the adjusted p_(k) is max over k' <= k of min(1, (N - k' + 1) p_(k')), and a row gets a verdict only when its
adjusted p is <= alpha. The family-wise error (any false verdict among the N rows) is then at most alpha.
"""

from __future__ import annotations

import numpy as np

from rib_core.errors import UsageError
from rib_core.metrics.replicates import p_value, seed_interval, seed_mean, seed_table

ALPHA = 0.05
CORRECTION = "holm"


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


def check_alpha(alpha) -> float:
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1:
        raise UsageError(f"--alpha {alpha}: the significance level must be a number between 0 and 1, e.g. 0.05.")
    return float(alpha)


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the input's order: reject row k at level alpha iff its adjusted p <= alpha."""
    order = sorted(range(len(p_values)), key=lambda k: p_values[k])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[k]))
        adjusted[k] = running
    return adjusted


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}%"


def _verdict(row: dict, alpha: float) -> str | None:
    diff, where = row["difference"], row["where"]
    if row["correction"] == CORRECTION:
        if row["p_holm"] > alpha:
            return None
        why = f"Holm-adjusted p = {row['p_holm']:.2g} <= {alpha:g} over the {row['family_size']} fine-tuning sets"
    else:
        if not (row["ci"][0] > 0 or row["ci"][1] < 0):
            return None
        why = f"{_level(alpha)} CI excludes 0; the primary claim, uncorrected"
    better, worse = (row["a"], row["b"]) if diff > 0 else (row["b"], row["a"])
    return f"{better} keeps more robustness than {worse} {where} ({abs(diff):.1f} points, {why})"


def compare(results, a: str, b: str, alpha: float = ALPHA) -> list[dict]:
    alpha = check_alpha(alpha)
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
                "seeds": seeds, "alpha": alpha}
        family, per_i = [], {}
        for i in results.datasets:
            both = [s for s in seeds if i in sa.per_seed[s].ri and i in sb.per_seed[s].ri]
            if not both:
                continue
            per_i[i] = both
            diffs = [sa.per_seed[s].ri[i] - sb.per_seed[s].ri[i] for s in both]
            boot = seed_mean(np.stack([sa.per_seed[s].boot[i] - sb.per_seed[s].boot[i] for s in both]))
            family.append(_row(base, i, diffs, boot, alpha, f"after fine-tuning on {i}", CORRECTION))
        for row, adjusted in zip(family, holm([r["p_value"] for r in family])):
            row["p_holm"], row["family_size"] = adjusted, len(family)
        rows += family
        complete = [s for s in seeds if all(s in per_i.get(i, ()) for i in results.datasets)]
        if complete:
            diffs = [np.mean([sa.per_seed[s].ri[i] - sb.per_seed[s].ri[i] for i in results.datasets]) for s in complete]
            boot = seed_mean(np.stack([np.mean([sa.per_seed[s].boot[i] - sb.per_seed[s].boot[i]
                                                for i in results.datasets], axis=0) for s in complete]))
            rows.append(_row(base, None, diffs, boot, alpha, "overall, on mRI", "none"))
    if not rows:
        raise UsageError(f"--compare {a} {b}: no (model, strategy) pair has results for both yet.")
    for row in rows:
        row["verdict"] = _verdict(row, alpha)
        del row["where"]
    return rows


def _row(base: dict, ft_dataset, diffs: list, boot, alpha: float, where: str, correction: str) -> dict:
    """One comparison row. `correction`: "holm" for the RI_i rows (adjusted p filled in by the caller), "none"
    for mRI, the primary claim."""
    return base | {"ft_dataset": ft_dataset, "metric": "ri" if ft_dataset else "mri",
                   "difference": float(np.mean(diffs)), "ci": seed_interval(diffs, boot, 1 - alpha),
                   "p_value": p_value(diffs, boot), "correction": correction, "p_holm": None,
                   "family_size": 1 if correction == "none" else None,
                   "role": "per fine-tuning set" if ft_dataset else "primary", "where": where}


def render(rows: list[dict], console) -> None:
    from rich.table import Table
    from rich.text import Text

    first = rows[0]
    alpha = first["alpha"]
    table = Table(title=f"{first['a']} minus {first['b']} (points; paired over images"
                        f"{' and seeds' if any(len(r['seeds']) > 1 for r in rows) else ''})",
                  title_justify="left", show_edge=False, pad_edge=False)
    fixed = "model" if first["kind"] == "strategies" else "strategy"
    for name, justify in ((fixed, "left"), ("fine-tuned on", "left"), (f"difference [{_level(alpha)} CI]", "right"),
                          ("p", "right"), ("Holm p", "right"), ("seeds", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        style = ("green" if r["difference"] > 0 else "red") if r["verdict"] else ""
        table.add_row(r[fixed], r["ft_dataset"] or "mRI (primary)",
                      Text(f"{r['difference']:+.1f} [{r['ci'][0]:+.1f},{r['ci'][1]:+.1f}]", style=style),
                      f"{r['p_value']:.2g}", "—" if r["p_holm"] is None else f"{r['p_holm']:.2g}",
                      str(len(r["seeds"])))
    from rib_core.report.terminal import widen_to

    widen_to(console, table)  # off a terminal, at least as wide as its content: no number is cut
    console.print(table)
    console.print(f"Verdicts at alpha = {alpha:g}. mRI is the primary claim, one test per {fixed}, not corrected. "
                  f"The RI_i rows of each {fixed} are corrected for multiple comparisons with Holm-Bonferroni "
                  "(Holm p: the adjusted p-value; family-wise error <= alpha): a row whose own interval excludes 0 "
                  "gets no verdict unless its Holm p is <= alpha too.", style="dim")
    if all(len(r["seeds"]) == 1 for r in rows):
        console.print("One training seed: these intervals cover test-image sampling only, not seed-to-seed "
                      "variance (set seeds = [0, 1, 2] in the suite).", style="dim")
    verdicts = [f"{r[fixed]}: {r['verdict']}." for r in rows if r["verdict"]]
    console.print("\n".join(verdicts) if verdicts else
                  "No difference passes its test: the data do not say which keeps more robustness.")
