"""The docs' worked example (examples/rib-ece) installs with pip from its folder and works end to end."""

import json
import subprocess
import sys

import tests.toy_plugin as toy
from tests.helpers import REPO
from tests.test_engine import SUITE, _subprocess_env


def test_example_plugin_installs_lists_and_reports(tmp_path):
    site = tmp_path / "example-site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--no-index", "--target", str(site), str(REPO / "examples" / "rib-ece")],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    data = tmp_path / "data"
    for name in toy.DOMAINS:
        toy.write_domain(data, name)
    env = _subprocess_env(tmp_path, data)
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"

    def rib(*args):
        return subprocess.run([sys.executable, "-m", "rib_core", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)

    listing = json.loads(rib("list", "metrics", "--json").stdout)
    assert {"name": "ece", "plugin": "rib-ece"}.items() <= {k: v for r in listing if r["name"] == "ece"
                                                             for k, v in r.items()}.items()
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(strategies='"freeze"', epochs=1).replace('["tiny/a", "tiny/b"]', '["tiny/a"]'))
    run = rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--no-report")
    assert run.returncode == 0, run.stderr
    report = json.loads(rib("report", str(tmp_path / "out"), "--format", "json").stdout)
    ece = [m for m in report["metrics"] if m["metric"] == "ece"]
    assert len(ece) == 4 + 3 * 4  # every evaluation: 4 pre-evaluations, 4 per fine-tuning set
    assert all(0 <= m["value"] <= 100 for m in ece)
    assert "ece" in rib("report", str(tmp_path / "out")).stdout
