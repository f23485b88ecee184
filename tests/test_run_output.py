"""What a user reads from `rib bench` when its output goes to files (nohup, SLURM), and how a run ends.

Off a terminal: plain progress lines at a steady interval (cell n/N, the current cell, rate, ETA), the report as
wide as its content needs (or COLUMNS) with no number cut, and last lines that say where the results are, what to
run next, and on failure which cells failed and how to see why.
"""

import json
import os
import re
import subprocess
import sys

import tests.toy_plugin as toy
from tests.helpers import REPO, fake_distribution
from tests.test_engine import SUITE
from tests.test_reliability_run import bench, toy_env, write_suite  # noqa: F401 - toy_env is a fixture

# The toy backbones and datasets, plus a strategy whose loss turns NaN at step 2 (a cell that fails).
PLUGIN = """from tests.toy_plugin import *
from rib_core.api import hookimpl as _hookimpl


@_hookimpl
def register_strategies(register):
    register("diverge", "tests.test_reliability_run:Diverge", "ft whose loss turns NaN at step 2")
"""


def _env(tmp_path, data):
    site = tmp_path / "site"
    if not site.exists():
        fake_distribution(site, "rib-toy", "rib_toy_entry", PLUGIN, entry_name="toy")
    return dict(os.environ, RIB_TOY_DATA=str(data), RIB_CACHE_DIR=str(tmp_path / "cache"),
                PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))

PROGRESS = re.compile(r"^progress: cell (\d+)/(\d+) · (.*) · ETA (\S.*) · elapsed (\d+:\d\d:\d\d)$", re.M)


def _run_to_files(tmp_path, strategies='"ft"'):
    data = tmp_path / "data"
    for name in toy.DOMAINS:
        toy.write_domain(data, name)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(strategies=strategies, epochs=2).replace('["tiny/a", "tiny/b"]', '["tiny/a"]'))
    env = dict(_env(tmp_path, data), RIB_PROGRESS_EVERY="0.2", RIB_TOY_STEP_SLEEP="0.02", COLUMNS="40")
    out = tmp_path / "out"
    with open(tmp_path / "stdout.log", "w") as stdout, open(tmp_path / "stderr.log", "w") as stderr:
        code = subprocess.run([sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--device", "cpu",
                               "--out", str(out)], env=env, cwd=tmp_path, stdout=stdout, stderr=stderr,
                              timeout=300).returncode
    return code, (tmp_path / "stdout.log").read_text(), (tmp_path / "stderr.log").read_text(), out


def test_output_to_files_has_periodic_progress_lines_and_a_report_with_every_number_whole(tmp_path, run_rib):
    code, stdout, stderr, out = _run_to_files(tmp_path)
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


def test_a_run_with_failed_cells_ends_naming_them_and_how_to_see_why(toy_env, run_rib):
    out = toy_env / "out"
    result = bench(run_rib, write_suite(toy_env, strategies='"ft", {name = "diverge", label = "nan"}'), out)
    assert result.exit_code == 1
    tail = result.stderr[result.stderr.index("Results are in"):]
    failed = [line for line in tail.splitlines() if line.startswith("  - fine-tune tiny/a / nan on ")]
    assert len(failed) == 2 and all("training diverged at step 2" in line for line in failed), tail
    assert "  - 4 cell(s) not run because a cell they depend on failed" in tail  # 2 evaluations of each
    assert tail.strip().splitlines()[-2].startswith(f"See why: rib status {out}")
    status = run_rib("status", str(out))
    assert status.exit_code == 0 and "2 failed" in status.stdout and "training diverged" in status.stdout
