"""Small helpers shared by rib's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fake_distribution(site: Path, dist: str, module_name: str, module_source: str, entry_name: str | None = None,
                      version: str = "0.1") -> None:
    """Make an 'installed' distribution with a rib entry point in `site` (a folder put on PYTHONPATH)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(module_source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[rib]\n{entry_name or module_name} = {module_name}\n")


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, pythonpath: list[Path] = (),
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m rib_core ARGS` in a fresh interpreter (so plugin discovery and imports are real)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if pythonpath:
        full_env["PYTHONPATH"] = os.pathsep.join([str(p) for p in pythonpath] + [full_env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "rib_core", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=timeout)
