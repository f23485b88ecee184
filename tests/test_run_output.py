"""What a user reads from `rib bench` when its output goes to files (nohup, SLURM), and how a run ends.

Off a terminal: plain progress lines at a steady interval (cell n/N, the current cell, rate, ETA), the report as
wide as its content needs (or COLUMNS) with no number cut, and last lines that say where the results are, what to
run next, and on failure which cells failed and how to see why.
"""

import json
import re

from rib_core.testing import toy
from tests.helpers import small_grid_suite

PROGRESS = re.compile(r"^progress: cell (\d+)/(\d+) · (.*) · ETA (\S.*) · elapsed (\d+:\d\d:\d\d)$", re.M)


def test_output_to_files_has_periodic_progress_lines_and_a_report_with_every_number_whole(toy_env, bench, run_rib,
                                                                                        monkeypatch):
    for name, value in {"RIB_PROGRESS_EVERY": "0.2", "RIB_TOY_STEP_SLEEP": "0.02", "COLUMNS": "40"}.items():
        monkeypatch.setenv(name, value)
    run = bench(toy.grid_suite(toy_env / "suite.toml", models=["tiny/a"], strategies=["ft"]), report=True)
    code, stdout, stderr, out = run.exit_code, run.stdout, run.stderr, run.out
    assert code == 0, stderr
    lines = PROGRESS.findall(stderr)
    assert len(lines) >= 3, stderr  # a line every 0.2 s over a run of several seconds
    total = int(lines[0][1])
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    assert total == len(manifest["cells"]) and all(int(n) <= total for n, *_ in lines)
    assert any("fine-tune tiny/" in what and re.search(r"\d+/\d+ steps · [\d.]+ steps/s", what)
               for _, _, what, _, _ in lines), lines
    assert any(re.fullmatch(r"\d+:\d\d:\d\d", eta) for *_, eta, _ in lines), lines
    assert "\x1b[" not in stderr  # no escape codes in a log file

    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    # The report is laid out for its content, not cut at COLUMNS=40: every number is there whole.
    assert "…" not in stdout and "demo" not in stdout
    assert max(len(line) for line in stdout.splitlines()) > 40
    for acc in report["accuracies"]:
        assert f"{acc['accuracy']:.1f}" in stdout
    for ri in report["ri"]:
        low, high = ri["ri_ci"]
        assert f"{ri['ri']:+.1f} [{low:+.1f},{high:+.1f}]" in stdout

    # The last lines say where the results are and what to run next.
    tail = stderr.strip().splitlines()[-5:]
    assert tail[0] == f"Results are in {out} (kept; a re-run reuses every finished cell). Next:"
    assert any(line.strip().startswith(f"rib report {out} ") or line.strip() == f"rib report {out}" for line in tail)
    assert any(f"rib report {out} --plot" in line for line in tail)
    assert any(f"rib report {out} --format json" in line for line in tail)


def test_a_run_with_failed_cells_ends_naming_them_and_how_to_see_why(small_toy_env, bench, run_rib):
    out = small_toy_env / "out"
    result = bench(small_grid_suite(small_toy_env, strategies=["ft", {"name": "diverge", "label": "nan"}]), out)
    assert result.exit_code == 1
    tail = result.stderr[result.stderr.index("Results are in"):]
    failed = [line for line in tail.splitlines() if line.startswith("  - fine-tune tiny/a / nan on ")]
    assert len(failed) == 2 and all("training diverged at step 2" in line for line in failed), tail
    assert "  - 4 cell(s) not run because a cell they depend on failed" in tail  # 2 evaluations of each
    assert tail.strip().splitlines()[-2].startswith(f"See why: rib status {out}")
    status = run_rib("status", str(out))
    assert status.exit_code == 0 and "2 failed" in status.stdout and "training diverged" in status.stdout
