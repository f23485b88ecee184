"""RI with its bootstrap interval for one model x one strategy, two datasets of n images each: time and peak RSS.

    python benchmarks/bench_ri_compute.py [--sizes 20000,100000,400000]

The measurement issue 21 quotes for the old code (a (1000, n) resample matrix): n = 20,000: 2.9 s, 0.65 GB;
100,000: 18 s, 3.1 GB; 400,000: 86 s, 12.3 GB. Each n runs `rib_core.metrics.robustness.compute` in a fresh
process on in-memory evaluations (no disk), and reports the wall time of `compute` and the process's peak RSS
(VmHWM, which includes the interpreter, numpy and the predictions themselves).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import common  # noqa: F401  (puts the checkout on sys.path)
from common import REPO

CHILD = """
import json, sys, time
import numpy as np
from rib_core.engine.results import Evaluation, Results
from rib_core.metrics.robustness import compute

n = int(sys.argv[1])
rng = np.random.default_rng(0)

def evaluation(strategy, ft, dataset, accuracy):
    labels = rng.integers(0, 1000, n)
    top1 = np.where(rng.random(n) < accuracy, labels, (labels + 1) % 1000).astype(np.int32)
    pred = {"positions": np.arange(n), "labels": labels, "top_idx": top1[:, None],
            "group_index": np.zeros(n, np.int64)}
    return Evaluation("m", strategy, ft, dataset, "all", 0.0, n, {"groups": []}, None, "", _pred=pred)

results = Results(datasets=["a", "b"], reference=None, models=["m"], strategies=["s"])
results.evaluations = [evaluation(None, None, "a", 0.6), evaluation(None, None, "b", 0.5),
                       evaluation("s", "a", "b", 0.45), evaluation("s", "b", "a", 0.55)]
started = time.perf_counter()
r = compute(results, "m", "s")
seconds = time.perf_counter() - started
peak = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:"))) / 2**20
print(json.dumps({"n": n, "seconds": seconds, "peak_gib": peak, "mri_ci": r.mri_ci}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000,400000")
    args = parser.parse_args()
    for n in args.sizes.split(","):
        out = subprocess.run([sys.executable, "-c", CHILD, n], capture_output=True, text=True, cwd=REPO, check=True)
        row = json.loads(out.stdout)
        print(f"  n = {row['n']:>9,}: compute {row['seconds']:.2f} s, peak RSS {row['peak_gib']:.3f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
