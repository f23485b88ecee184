#!/usr/bin/env bash
# Every CPU benchmark of rib, one after the other, then one table of their figures (and whether each target
# was met). About 3 minutes on a 2-core CPU; docs/performance.md quotes its output.
#
#   benchmarks/run_all.sh [DIR]      the JSON of each benchmark goes to DIR (default: a new temporary folder)
#
# PYTHON picks the interpreter (default: .venv/bin/python when there is one, else python3). Exit status 1 if a
# benchmark failed or missed its target.
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
DIR=${1:-$(mktemp -d -t rib-bench-XXXXXX)}
mkdir -p "$DIR"
status=0
start=$SECONDS
for bench in eval_path reference_loop training grid_cost memory startup; do
  echo "== bench_$bench"
  t=$SECONDS
  "$PYTHON" "benchmarks/bench_$bench.py" --json "$DIR/$bench.json" || { echo "bench_$bench FAILED"; status=1; }
  echo "   ($((SECONDS - t)) s)"
done
echo "== gpu_check --smoke (the GPU script's CPU fallback; its figures are not benchmarks)"
t=$SECONDS
mkdir -p "$DIR/smoke"  # kept out of the table: smoke-sized figures are not benchmarks
"$PYTHON" benchmarks/gpu_check.py --smoke --out "$DIR/smoke/gpu_check.json" >"$DIR/smoke/gpu_check.log" 2>&1 \
  && echo "   ok ($((SECONDS - t)) s)" || { echo "gpu_check --smoke FAILED: see $DIR/smoke/gpu_check.log"; status=1; }

echo
echo "== all figures ($((SECONDS - start)) s in all; JSON in $DIR)"
"$PYTHON" benchmarks/common.py table "$DIR" || status=1
exit $status
