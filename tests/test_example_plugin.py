"""The docs' worked example (examples/rib-ece) installs with pip from its folder and works end to end."""

import json
import subprocess
import sys

import pytest

from rib_core.testing import toy
from tests.helpers import REPO, toy_process_env


@pytest.mark.slow  # pip installs the example, then four `rib` processes find it through its entry point
def test_example_plugin_installs_lists_and_reports(tmp_path):
    site = tmp_path / "example-site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--no-index", "--target", str(site), str(REPO / "examples" / "rib-ece")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    data = tmp_path / "data"
    for name in toy.DOMAINS:
        toy.write_domain(data, name)
    env = toy_process_env(tmp_path, data)
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"

    def rib(*args):
        return subprocess.run([sys.executable, "-m", "rib_core", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    listing = json.loads(rib("list", "metrics", "--json").stdout)
    assert {"name": "ece", "plugin": "rib-ece"}.items() <= {k: v for r in listing if r["name"] == "ece"
                                                             for k, v in r.items()}.items()
    suite = toy.grid_suite(tmp_path / "suite.toml", models=["tiny/a"], strategies=["freeze"], training={"epochs": 1})
    run = rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--no-report")
    assert run.returncode == 0, run.stderr
    report = json.loads(rib("report", str(tmp_path / "out"), "--format", "json").stdout)
    ece = [m for m in report["metrics"] if m["metric"] == "ece"]
    assert len(ece) == 4 + 3 * 4  # every evaluation: 4 pre-evaluations, 4 per fine-tuning set
    assert all(0 <= m["value"] <= 100 for m in ece)
    assert "ece" in rib("report", str(tmp_path / "out")).stdout
