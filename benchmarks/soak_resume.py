"""Soak test: SIGKILL a `rib bench` run at seeded random moments, resume it each time, compare with an
uninterrupted run.

    python benchmarks/soak_resume.py [--kills 20] [--seed 0] [--max-delay-fraction 0.6] [--workers 0] [--keep DIR]

The run is the toy plugin of rib's tests (rib_core/testing/toy.py, installed as a fake distribution for the child
processes): 1 tiny backbone x 3 domains + a reference set x strategies ft, lp-ft (a two-stage fine-tune) and
wise-ft (3 weight-space variants), 3 epochs, with a short sleep per training step so that fine-tuning takes a
visible share of the run. (The packaged demo suite is far too big to run twenty-odd times on a laptop CPU.)

1. One uninterrupted run gives the reference results and W, the time from its lock appearing to its exit.
2. Rounds: each round starts from an empty results directory and an empty image cache (so cache building is
   killed too). An attempt starts `rib bench`, waits for the results directory's lock (the run has started
   working), sleeps U(0, max_delay_fraction * W) seconds drawn from a seeded generator, and SIGKILLs the whole
   process group. Before the next attempt resumes, the store is audited: every record.json that parses must
   have intact files (Store.record), i.e. nothing torn is ever readable as valid. An attempt that finishes
   before its kill moment completes the round: its results must equal the reference bit for bit (predictions,
   weights, accuracies, RI/mRI). Rounds continue until --kills kills have happened; the last round is then run
   to completion.
Prints the figures; exits 1 if any round differs from the reference or any audit fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SUITE = """
[suites.soak]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b", "toy-c"]
reference = "toy-ref"
strategies = ["ft", "lp-ft", {name = "wise-ft", alphas = [0.25, 0.5, 0.75]}]
eval_batch_size = 16

[suites.soak.training]
lr = 0.05
epochs = 3
warmup_steps = 2
batch_size = 8
"""


def setup(work: Path) -> tuple[Path, dict]:
    """Toy data, a fake installed distribution for the toy plugin, the suite file; returns (suite, env)."""
    from rib_core.testing import toy
    from tests.helpers import fake_distribution

    for name in toy.DOMAINS:
        toy.write_domain(work / "data", name)
    fake_distribution(work / "site", "rib-toy", "rib_toy_entry", "from rib_core.testing.toy import *\n", entry_name="toy")
    suite = work / "suite.toml"
    suite.write_text(SUITE)
    env = dict(os.environ, RIB_TOY_DATA=str(work / "data"), RIB_TOY_STEP_SLEEP="0.02",
               PYTHONPATH=os.pathsep.join([str(work / "site"), str(REPO)]))
    return suite, env


class Attempt:
    def __init__(self, suite: Path, out: Path, cache: Path, env: dict, workers: int):
        command = [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--device", "cpu",
                   "--workers", str(workers), "--no-report"]
        self.out = out
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(command, env=dict(env, RIB_CACHE_DIR=str(cache)), cwd=out.parent,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)  # its own group: a kill takes DataLoader workers too

    def wait_for_work(self, timeout: float = 300) -> float | None:
        """Seconds until the run holds its lock (it has started working); None if it exited first."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if (self.out / "rib.lock").exists():
                return time.perf_counter() - self.started
            if self.proc.poll() is not None:
                return None
            time.sleep(0.01)
        raise TimeoutError("the run did not start working in time")

    def kill(self) -> bool:
        """SIGKILL the run's process group; False if it had already exited."""
        if self.proc.poll() is not None:
            return False
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return True

    def finish(self) -> int:
        _, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            print(stderr, file=sys.stderr)
        return self.proc.returncode


def audit(out: Path) -> dict:
    """Records readable as JSON whose files are not intact (must be 0), valid records, and temp-file debris."""
    from rib_core.engine.store import Store

    store = Store(out)
    valid = torn = 0
    for path in out.glob("cells/*/record.json"):
        try:
            json.loads(path.read_text())
        except ValueError:
            continue  # unreadable: ignored by rib, recomputed
        if store.record(path.parent.name) is None:
            torn += 1
        else:
            valid += 1
    debris = sum(1 for p in out.rglob("*") if ".tmp" in p.name)
    checkpoints = sum(1 for _ in out.glob("cells/*/work/checkpoint.json"))
    return {"valid": valid, "torn_but_readable": torn, "tmp_debris": debris, "checkpoints": checkpoints}


def fingerprint(out: Path) -> dict:
    """Everything that must match an uninterrupted run: per cell, the bytes of its files and its accuracy."""
    manifest = json.loads((out / "runs" / "soak.json").read_text())
    found = {}
    for cell in manifest["cells"]:
        folder = out / "cells" / cell["key"]
        record = json.loads((folder / "record.json").read_text())
        files = {name: (folder / name).read_bytes() for name in sorted(record["files"])}
        found[cell["key"]] = (record.get("accuracy"), files)
    return found


def summary(out: Path) -> dict:
    from rib_core.engine.results import load_results
    from rib_core.metrics.robustness import robustness_table

    table = robustness_table(load_results(out, "soak"))
    return {f"{r.model}/{r.strategy}": {"ri": r.ri, "mri": r.mri} for r in table}


def resumed_fine_tunes(out: Path) -> int:
    count = 0
    for path in out.glob("cells/*/record.json"):
        log = json.loads(path.read_text()).get("train_log") or {}
        count += (log.get("resumed_from_step") or 0) > 0
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to deliver in all (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-delay-fraction", type=float, default=0.6,
                        help="kill moments are U(0, this * W) after the lock appears; W: the uninterrupted run's")
    parser.add_argument("--workers", type=int, default=0, help="--workers passed to rib bench")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="rib-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    suite, env = setup(work)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()

    first = Attempt(suite, work / "reference", work / "cache-reference", env, args.workers)
    start = first.wait_for_work()
    if first.finish() != 0 or start is None:
        print("the uninterrupted run failed", file=sys.stderr)
        return 1
    total = time.perf_counter() - first.started
    work_time = total - start
    reference, reference_summary = fingerprint(work / "reference"), summary(work / "reference")
    print(f"uninterrupted run: {total:.1f} s ({work_time:.1f} s after taking the lock), {len(reference)} cells",
          flush=True)

    kills: list[dict] = []
    rounds: list[dict] = []
    failures: list[str] = []
    round_index = 0
    while len(kills) < args.kills:
        round_index += 1
        out, cache = work / f"round-{round_index}", work / f"cache-round-{round_index}"
        attempts = 0
        while True:
            attempts += 1
            attempt = Attempt(suite, out, cache, env, args.workers)
            started = attempt.wait_for_work()
            last_round_to_finish = len(kills) >= args.kills
            delay = rng.uniform(0, args.max_delay_fraction * work_time)
            if started is not None and not last_round_to_finish:
                time.sleep(delay)
                if attempt.kill():
                    state = audit(out)
                    kills.append({"round": round_index, "attempt": attempts, "delay_s": round(delay, 2), **state})
                    print(f"  kill {len(kills)}: round {round_index}, {delay:.1f} s after the lock, "
                          f"{state['valid']}/{len(reference)} cells done", flush=True)
                    if state["torn_but_readable"]:
                        failures.append(f"round {round_index}: {state['torn_but_readable']} torn record(s) readable")
                    continue
            if attempt.finish() != 0:
                failures.append(f"round {round_index}: the resumed run failed")
                break
            same = fingerprint(out) == reference and summary(out) == reference_summary
            if not same:
                failures.append(f"round {round_index}: results differ from the uninterrupted run")
            rounds.append({"round": round_index, "attempts": attempts,
                           "kills": sum(k["round"] == round_index for k in kills),
                           "fine_tunes_resumed_from_a_checkpoint": resumed_fine_tunes(out), "identical": same})
            break
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)

    print(f"{len(kills)} SIGKILLs over {len(rounds)} rounds (seed {args.seed}), "
          f"kill moments U(0, {args.max_delay_fraction * work_time:.1f} s) after the lock, "
          f"{time.perf_counter() - t0:.0f} s in all")
    print(f"round  attempts  kills  cells done when killed ({len(reference)} in all)  fine-tunes resumed  identical")
    for r in rounds:
        done = [k["valid"] for k in kills if k["round"] == r["round"]]
        print(f"{r['round']:>5}  {r['attempts']:>8}  {r['kills']:>5}  {str(done):<34}  "
              f"{r['fine_tunes_resumed_from_a_checkpoint']:>18}  {'yes' if r['identical'] else 'NO'}")
    print(f"kills with a fine-tune checkpoint on disk: {sum(k['checkpoints'] > 0 for k in kills)} of {len(kills)}")
    print(f"torn records readable as valid after a kill: {sum(k['torn_but_readable'] for k in kills)}; "
          f"temp-file debris seen after kills: {sum(k['tmp_debris'] for k in kills)} (ignored by rib)")
    for line in failures:
        print("FAILED:", line)
    print("OK: every resumed run equals the uninterrupted one" if not failures else "SOAK FAILED")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
