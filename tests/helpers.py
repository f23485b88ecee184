"""Small helpers shared by rib's tests (the fixtures are in tests/conftest.py, the toy world in
rib_core/testing/toy.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from rib_core.testing.toy import entry_point_site, grid_suite

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


def toy_process_env(tmp_path: Path, data: Path | None = None, **extra: str) -> dict:
    """The environment of a `python -m rib_core` subprocess in the toy world: the toy plugin installed as the
    distribution rib-toy (in tmp_path/site), its domains read from `data` (default: RIB_TOY_DATA as set), rib's
    cache in tmp_path/cache, rib's tests importable (tests.toy_launcher, tests.faults), then `extra`."""
    site = entry_point_site(tmp_path / "site")
    env = dict(os.environ, RIB_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    if data is not None:
        env["RIB_TOY_DATA"] = str(data)
    return {**env, **extra}


def small_grid_suite(folder: Path, models=("tiny/a",), strategies=("ft",), epochs: int = 1,
                     batch_size: int = 8, **keys) -> Path:
    """folder/suite.toml, the grid of the `small_toy_env` fixture: tiny/a (or `models`) fine-tuned with ft (or
    `strategies`) on toy-a and toy-b, one epoch; 8 cells for one model and one strategy. `keys`: more suite keys."""
    return grid_suite(Path(folder) / "suite.toml", models=models, datasets=("toy-a", "toy-b"), reference=None,
                      strategies=strategies, training={"epochs": epochs, "batch_size": batch_size}, **keys)


@contextmanager
def bench_process_at_first_checkpoint(suite: Path, out: Path, env: dict, cwd: Path, timeout: float = 120):
    """`rib bench -c SUITE --out OUT` (CPU, no report) in a process of its own, yielded once a fine-tune has written
    its first epoch checkpoint, for the test to signal; killed on the way out if it still runs."""
    command = [sys.executable, "-m", "rib_core", "bench", "-c", str(suite), "--out", str(out), "--device", "cpu",
               "--workers", "0", "--no-report"]
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and not list(out.glob("cells/*/work/checkpoint.json")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert list(out.glob("cells/*/work/checkpoint.json")), "the run never reached its first fine-tune epoch"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()


WORK_DONE = re.compile(r"(\d+) cell\(s\) run, (\d+) reused; (\d+) image forwards, (\d+) training steps")


def work_done(stderr: str) -> tuple[int, int, int, int]:
    """(cells run, cells reused, image forwards, training steps) from the last lines of `rib bench`."""
    found = WORK_DONE.search(stderr)
    assert found, stderr[-3000:]
    return tuple(int(x) for x in found.groups())


def cells_run(stderr: str) -> int:
    """How many cells `rib bench` says it ran."""
    found = re.search(r"(\d+) cell\(s\) run, (\d+) reused", stderr)
    assert found, stderr[-3000:]
    return int(found.group(1))


def records(out: Path) -> list[dict]:
    """Every cell's record.json in the results directory `out`."""
    return [json.loads(p.read_text()) for p in sorted(out.glob("cells/*/record.json"))]


def linked_cache(folder: Path, *shared: Path) -> Path:
    """A fresh RIB_CACHE_DIR at `folder` whose parts `shared` (a session's demo-data, demo-models) are links to
    folders drawn or trained once; what a run writes (decoded images, zero-shot heads) stays in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in shared:
        os.symlink(part, folder / part.name, target_is_directory=True)
    return folder


# A valid suite that the refusal tests break one way at a time (tests/test_reliability_config.py, _inputs.py).
VALID_SUITE = """
[suites.s]
models = ["timm:vit_tiny_patch16_224"]
datasets = ["imagenet-r", "imagenet-a"]
strategies = ["ft"]
"""


def bench_refuses(run_rib, tmp_path: Path, text: str) -> str:
    """Run `rib bench` on a suite; assert the one-screen exit-2 refusal with nothing started; return stderr."""
    suite = tmp_path / "suite.toml"
    suite.write_text(text)
    out = tmp_path / "out"
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu")
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("rib: error: ")
    assert len(result.stderr.splitlines()) <= 12, result.stderr
    assert not out.exists(), "a results directory was created although nothing should have started"
    return result.stderr


def refused_with(run_rib, tmp_path: Path, text: str, fragments) -> None:
    """bench_refuses, and its message holds every one of `fragments`."""
    stderr = bench_refuses(run_rib, tmp_path, text)
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


def internal_imports(path, allowed=("api",), base=REPO) -> list[str]:
    """The lines of `path` that import rib_core other than `rib_core.<allowed>` (`import rib_core` too)."""
    import re

    ok = "|".join(re.escape(name) for name in allowed)
    forbidden = re.compile(rf"\b(from|import)\s+rib_core(?!\.({ok})\b)")
    return [f"{path.relative_to(base)}:{number}: {line.strip()}"
            for number, line in enumerate(path.read_text().splitlines(), 1) if forbidden.search(line)]
