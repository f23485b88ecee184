"""Simulated coverage of rib's intervals and error rate of its verdicts, each next to the scheme it replaced.

    python benchmarks/bench_coverage.py [--sims 400] [--replicates 500] [--json FILE]

Every number goes through rib's own code on in-memory results (rib_core.metrics.robustness.compute,
rib_core.metrics.replicates.seed_stats, rib_core.report.compare.compare); only the data are simulated, with a
known truth:

1. The joint bootstrap. RI_i over three datasets that render the same source images (one with 5 renditions
   per source, as ImageNet-C; two with one, as Cartoon and Drawing). A source's change after fine-tuning is
   shared by all its renditions with probability rho (else drawn afresh from the same law), so the datasets are
   correlated; the true RI_i is E[change] = P(+1) - P(-1). Coverage of the 95 % interval: joint (one weight per
   source across datasets, what rib does) vs independent (each dataset resampled on its own, as before).
2. The seed interval at S = 2, 3, 5, 10 training seeds: an image is right when its difficulty u ~ U(0, 1) is
   below the model's skill p (per image, U(0.3, 0.8)); fine-tuning with seed s moves the skill by
   mu + delta_s, delta_s ~ N(0, sigma) points, so most images keep their answer across seeds. The truth is
   mu, the mean change over images and seeds.
   Coverage of the 95 % interval: rib's (image percentiles + Student-t seed component) vs the two-stage
   bootstrap that resampled seeds with replacement (the replaced scheme, reimplemented here).
3. Holm's family-wise error: two strategies A and B that are the same in distribution, N = 8 datasets, one
   seed; the share of simulations in which `--compare A B` prints a verdict for some RI_i row, uncorrected (the
   row's own 95 % interval excludes 0) vs after Holm (what rib prints).

A coverage estimated from `sims` simulations has a Monte Carlo standard error of sqrt(p (1 - p) / sims): about
0.010 at 0.95 and 500 simulations. The default run takes a few minutes on 2 cores (the sizes are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import time

# One BLAS thread: the work is many small matrix-vector products, which a multi-threaded BLAS runs about 10x
# slower on a loaded 2-core machine (measured: 4.3 s vs 0.34 s per Holm simulation). Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import common  # noqa: F401,E402  (puts the checkout on sys.path)
from rib_core.engine.results import Evaluation, Results  # noqa: E402
from rib_core.metrics.replicates import interval, seed_stats  # noqa: E402
from rib_core.metrics.robustness import compute  # noqa: E402
from rib_core.report.compare import compare  # noqa: E402

FAMILY = "imagenet-1k-val"


def evaluation(strategy, ft, dataset, correct, seed=None, sources=None, clusters=None):
    n = len(correct)
    pred = {"positions": np.arange(n, dtype=np.int64), "labels": np.zeros(n, np.int64),
            "top_idx": np.where(correct, 0, 1).astype(np.int32)[:, None], "group_index": np.zeros(n, np.int64)}
    record = {"groups": []}
    if sources is not None:
        pred["source_index"], record["source_images"] = np.asarray(sources, np.int64), FAMILY
    if clusters is not None:
        pred["cluster_index"] = np.asarray(clusters, np.int64)
    return Evaluation("m", strategy, ft, dataset, "all", 0.0, n, record, None, "", seed=seed, _pred=pred)


def pre_post(change: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Correct before / after for a paired change in {-1, 0, +1} (0: right or wrong both times)."""
    same = rng.random(len(change)) < 0.5
    return np.where(change == 0, same, change < 0), np.where(change == 0, same, change > 0)


# -- 1. the joint bootstrap ----------------------------------------------------------------------------------------
def joint_coverage(sims: int, replicates: int, sources: int = 300, rho: float = 0.8, seed: int = 0) -> dict:
    law = np.array([0.30, 0.35, 0.35])  # P(-1), P(0), P(+1)
    truth = 100.0 * (law[2] - law[0])
    sets = {"corrupt": 5, "cartoon": 1, "drawing": 1}  # renditions per source
    rng = np.random.default_rng(seed)
    hits = {"joint": 0, "independent": 0}
    widths = {"joint": [], "independent": []}
    for _ in range(sims):
        shared = rng.choice([-1, 0, 1], sources, p=law)
        data = {}
        for name, versions in sets.items():
            ids = np.repeat(np.arange(1, sources + 1), versions)
            fresh = rng.choice([-1, 0, 1], len(ids), p=law)
            change = np.where(rng.random(len(ids)) < rho, shared[ids - 1], fresh)
            data[name] = (ids, *pre_post(change, rng))
        for mode in hits:
            results = Results(datasets=["own", *sets], reference=None, models=["m"], strategies=["ft"])
            results.evaluations = [evaluation(None, None, "own", np.ones(2, bool))]
            for name, (ids, pre, post) in data.items():
                kw = {"sources": ids} if mode == "joint" else {"clusters": ids - 1}  # within-set clusters as before
                results.evaluations += [evaluation(None, None, name, pre, **kw),
                                        evaluation("ft", "own", name, post, **kw)]
            low, high = compute(results, "m", "ft", replicates=replicates).ri_ci["own"]
            hits[mode] += low <= truth <= high
            widths[mode].append(high - low)
    return {"sims": sims, "sources": sources, "rho": rho, "truth": float(truth),
            "coverage": {m: hits[m] / sims for m in hits},
            "median_width": {m: float(np.median(w)) for m, w in widths.items()}}


# -- 2. the seed interval --------------------------------------------------------------------------------------
def two_stage(per_seed_boot: np.ndarray, rng) -> list[float]:
    """The replaced scheme: replicate b draws S seeds with replacement and averages their RI^(s, b)."""
    seeds, replicates = per_seed_boot.shape
    draws = rng.integers(0, seeds, size=(replicates, seeds))
    return interval(per_seed_boot[draws, np.arange(replicates)[:, None]].mean(axis=1))


def seed_coverage(sims: int, replicates: int, seeds=(2, 3, 5, 10), images: int = 1000, sigma: float = 2.0,
                  mu: float = -3.0, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for n_seeds in seeds:
        hits = {"t": 0, "two-stage": 0}
        for _ in range(sims):
            # An image is right when its difficulty u is below the model's skill p: fine-tuning with seed s
            # moves the skill by (mu + delta_s) points, so most images keep their answer, as they do in practice.
            p_pre, u = rng.uniform(0.3, 0.8, images), rng.random(images)
            results = Results(datasets=["i", "j"], reference=None, models=["m"], strategies=["ft"])
            results.evaluations = [evaluation(None, None, "j", u < p_pre),
                                   evaluation(None, None, "i", np.ones(2, bool))]
            for s in range(n_seeds):
                shift = (mu + rng.normal(0.0, sigma)) / 100.0
                results.evaluations.append(evaluation("ft", "i", "j", u < p_pre + shift, seed=s))
            stats = seed_stats(results, "m", "ft", replicates=replicates)
            truth = mu  # E over images and seeds of post - pre, in points (p_pre + shift stays inside (0, 1))
            low, high = stats.ri_ci["i"]
            hits["t"] += low <= truth <= high
            low, high = two_stage(np.stack([stats.per_seed[s].boot["i"] for s in stats.seeds]), rng)
            hits["two-stage"] += low <= truth <= high
        out[n_seeds] = {m: h / sims for m, h in hits.items()}
    return {"sims": sims, "images": images, "seed_sd_points": sigma, "coverage": out}


# -- 3. Holm's family-wise error -------------------------------------------------------------------------------
def holm_error(sims: int, replicates: int, datasets: int = 8, images: int = 500, seed: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    any_uncorrected = any_holm = 0
    for sim in range(sims):
        # rib seeds a dataset's image resamples by its name: new names give each simulation its own resamples,
        # so the error rate is the method's, not that of one set of 1000 resamples shared by every simulation.
        names = [f"d{k}-{sim}" for k in range(datasets)]
        results = Results(datasets=names, reference=None, models=["m"], strategies=["A", "B"])
        q = {j: rng.uniform(0.2, 0.9, images) for j in names}
        results.evaluations = [evaluation(None, None, j, rng.random(images) < q[j]) for j in names]
        for i in names:
            for j in names:
                if i != j:
                    results.evaluations += [evaluation(s, i, j, rng.random(images) < q[j]) for s in ("A", "B")]
        # compare() reads the seed table of the results; computed here with --replicates instead of rib's 1000.
        results._seed_stats = [seed_stats(results, "m", s, replicates=replicates) for s in ("A", "B")]
        rows = [r for r in compare(results, "A", "B") if r["ft_dataset"] is not None]
        any_uncorrected += any(r["ci"][0] > 0 or r["ci"][1] < 0 for r in rows)
        any_holm += any(r["verdict"] is not None for r in rows)
    return {"sims": sims, "rows": datasets, "images": images,
            "family_wise_error": {"uncorrected": any_uncorrected / sims, "holm": any_holm / sims}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=500, help="simulations per figure (default 500)")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default: rib's, 1000)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    report = {"benchmark": "coverage", "machine": common.machine(), "replicates": args.replicates}
    started = time.perf_counter()

    joint = joint_coverage(args.sims, args.replicates)
    print(f"1. joint bootstrap: RI_i over 3 datasets rendering the same {joint['sources']} sources "
          f"(rho = {joint['rho']}), {joint['sims']} simulations, {args.replicates} replicates")
    for mode, cover in joint["coverage"].items():
        print(f"   {mode:12s} coverage {cover:.3f} (nominal 0.95), median width {joint['median_width'][mode]:.1f}")
    seeds = seed_coverage(args.sims, args.replicates)
    print(f"2. seed interval: seed SD {seeds['seed_sd_points']} points, {seeds['images']} images, "
          f"{seeds['sims']} simulations per S")
    for n_seeds, cover in seeds["coverage"].items():
        print(f"   S = {n_seeds:2d}: t (rib) {cover['t']:.3f}   two-stage (replaced) {cover['two-stage']:.3f}"
              "   (nominal 0.95)")
    holm = holm_error(args.sims, args.replicates)
    print(f"3. family-wise error of --compare's {holm['rows']} RI_i rows under no difference, {holm['images']} "
          f"images per dataset, {holm['sims']} simulations")
    print(f"   uncorrected {holm['family_wise_error']['uncorrected']:.3f}   Holm (rib) "
          f"{holm['family_wise_error']['holm']:.3f}   (nominal <= 0.05)")
    elapsed = time.perf_counter() - started
    print(f"Monte Carlo standard error at 0.95: {np.sqrt(0.95 * 0.05 / args.sims):.3f}; {elapsed:.0f} s")
    report |= {"joint": joint, "seeds": seeds, "holm": holm, "seconds": elapsed}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
