"""Work a suite actually does vs the minimum the protocol needs: model forwards and training steps.

    python benchmarks/bench_grid_cost.py [--per-class 20] [--epochs 2] [--json F]

Runs a small suite three times through the real CLI (`python -m rib_core bench`, a fresh process each time),
with the toy plugin of rib's tests (rib_core/testing/toy.py: 4-class colour images in 3 domains plus a reference
set, two tiny MLP backbones) installed as a distribution with a "rib" entry point, exactly as a user's plugin:

  1. strategies ft and lp, into an empty results directory;
  2. the same suite again: the protocol needs no work at all;
  3. lp-ft added: it needs only its own fine-tunes (its lp stage is the lp run already stored) and their
     evaluations; no pre-evaluation again.

The minimum is computed here from the suite alone, without rib's plan: per model, every dataset and the
reference set evaluated once before fine-tuning; per (model, strategy, D_i) one fine-tune of
epochs * ceil(|FT part of D_i| / batch) steps, then D_i's held-out part, all of every other D_j and all of the
reference set evaluated once. The split sizes come from rib_core.data.splits (the split is rib's definition).
Prints executed / minimum for forwards and steps: each must be exactly 1.0 (0 work on the re-run).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import REPO, Report, seconds

SUITE = """
[suites.grid]
models = ["tiny/a", "tiny/b"]
datasets = ["toy-a", "toy-b", "toy-c"]
reference = "toy-ref"
strategies = [{strategies}]
eval_batch_size = 16

[suites.grid.training]
lr = 0.05
epochs = {epochs}
warmup_steps = 1
batch_size = {batch_size}
"""
SUMMARY = re.compile(r"(\d+) cell\(s\) run, (\d+) reused; (\d+) image forwards, (\d+) training steps")


def protocol_minimum(models, datasets, reference, strategies, epochs, batch_size, sizes, already=()) -> tuple[int, int]:
    """(image forwards, training steps) the protocol needs for `strategies`, given what is `already` stored.

    `sizes[name]` = (all images, fine-tuning part, held-out part). `already`: strategies whose results are
    stored (their pre-evaluations too; a staged strategy's first stage is free when that stage is stored).
    """
    stage_of = {"lp-ft": "lp"}  # lp-ft fine-tunes from the lp result
    forwards = steps = 0
    for _ in models:
        if not already:
            forwards += sum(sizes[d][0] for d in datasets) + sizes[reference][0]
        for strategy in strategies:
            if strategy in already:
                continue
            for i in datasets:
                forwards += sizes[i][2] + sum(sizes[j][0] for j in datasets if j != i) + sizes[reference][0]
                per_run = epochs * math.ceil(sizes[i][1] / batch_size)
                steps += per_run
                stage = stage_of.get(strategy)
                if stage is not None and stage not in already and stage not in strategies:
                    steps += per_run
    return forwards, steps


def run_suite(suite: Path, out: Path, env: dict) -> tuple[tuple[int, int, int, int], float]:
    command = [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--device", "cpu",
               "--no-report", "--workers", "0"]
    result = {}

    def run():
        result["p"] = subprocess.run(command, env=env, cwd=suite.parent, capture_output=True, text=True)

    wall = seconds(run)
    proc = result["p"]
    found = SUMMARY.search(proc.stderr)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"rib bench failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return tuple(int(x) for x in found.groups()), wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=20, help="images per class and domain (4 classes)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from rib_core.testing import toy
    from rib_core.data.splits import split_indices
    from tests.helpers import fake_distribution

    report = Report("grid_cost", vars(args))
    models, datasets, reference = ["tiny/a", "tiny/b"], ["toy-a", "toy-b", "toy-c"], "toy-ref"
    with tempfile.TemporaryDirectory(prefix="rib-bench-") as tmp:
        tmp = Path(tmp)
        for name in toy.DOMAINS:
            toy.write_domain(tmp / "data", name, per_class=args.per_class)
        os.environ["RIB_TOY_DATA"] = str(tmp / "data")  # ToyDataset reads it, here and in the CLI
        sizes = {}
        for name in toy.DOMAINS:
            samples = toy.ToyDataset(name, None, {"adapter": name}).samples()
            ft, held = split_indices(samples, 0.8, 0)
            sizes[name] = (len(samples), len(ft), len(held))
        fake_distribution(tmp / "site", "rib-toy", "rib_toy_entry", "from rib_core.testing.toy import *\n",
                          entry_name="toy")
        env = dict(os.environ, RIB_CACHE_DIR=str(tmp / "cache"),
                   PYTHONPATH=os.pathsep.join([str(tmp / "site"), str(REPO)]))

        def suite(strategies) -> Path:
            path = tmp / "suite.toml"
            path.write_text(SUITE.format(strategies=", ".join(f'"{s}"' for s in strategies), epochs=args.epochs,
                                         batch_size=args.batch_size))
            return path

        first_strategies, added = ["ft", "lp"], ["ft", "lp", "lp-ft"]
        out = tmp / "results"
        first, first_s = run_suite(suite(first_strategies), out, env)
        again, again_s = run_suite(suite(first_strategies), out, env)
        third, third_s = run_suite(suite(added), out, env)

    common_args = (models, datasets, reference)
    minimum_first = protocol_minimum(*common_args, first_strategies, args.epochs, args.batch_size, sizes)
    minimum_third = protocol_minimum(*common_args, added, args.epochs, args.batch_size, sizes,
                                     already=first_strategies)
    print(f"suite: {len(models)} models x {len(datasets)} datasets + reference, {args.per_class} images per class, "
          f"{args.epochs} epochs, batch {args.batch_size}")
    print(f"  {'run':<28} {'cells run':>9} {'reused':>7} {'forwards':>9} {'minimum':>8} {'steps':>6} {'minimum':>8} "
          f"{'seconds':>8}")
    rows = [("1. ft, lp (empty store)", first, minimum_first, first_s),
            ("2. the same again", again, (0, 0), again_s),
            ("3. + lp-ft", third, minimum_third, third_s)]
    for label, (run, reused, forwards, steps), (min_forwards, min_steps), wall in rows:
        print(f"  {label:<28} {run:>9} {reused:>7} {forwards:>9} {min_forwards:>8} {steps:>6} {min_steps:>8} "
              f"{wall:>8.1f}")

    def exact(name, done, minimum):
        value = done / minimum if minimum else float(done == 0)
        report.figure(name, value, "x", target="1.0 exactly", ok=done == minimum)

    exact("forwards / minimum, first run", first[2], minimum_first[0])
    exact("training steps / minimum, first run", first[3], minimum_first[1])
    report.figure("work on the re-run (forwards + steps)", again[2] + again[3], "", target="0",
                  ok=again[2] + again[3] == 0)
    exact("forwards / minimum, strategy added", third[2], minimum_third[0])
    exact("training steps / minimum, strategy added", third[3], minimum_third[1])
    report.write(args.json)
    ok = first[2:] == minimum_first and again[2:] == (0, 0) and third[2:] == minimum_third
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
