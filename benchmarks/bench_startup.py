"""Start-up time of the `rib` command vs importing torch.

    python benchmarks/bench_startup.py [--repeat 5] [--json F]

Times, in rotation, fresh interpreters running `python -c pass` (the floor), `rib --help`, `rib list models`,
`rib plugins` and `python -c "import torch"`. `rib --help` and `rib list` must never import torch, timm or
open_clip (registrations name "module:attr" targets that load on first use), so they should cost a fraction of
an `import torch`; the script also checks, in a fresh interpreter, that neither imports torch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
from common import REPO, Report, rotate

IMPORTS_CHECK = """
import sys
from rib_core.cli import main
try:
    main({args!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "timm", "open_clip", "torchvision") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def rib_command() -> list[str]:
    """The installed `rib` console script beside this interpreter, else `python -m rib_core`."""
    script = Path(sys.executable).parent / "rib"
    if script.exists():
        return [str(script)]
    found = shutil.which("rib")
    return [found] if found else [sys.executable, "-m", "rib_core"]


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=dict(os.environ, COLUMNS="100"))
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")


def heavy_imports(args: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", IMPORTS_CHECK.format(args=args)], capture_output=True,
                            text=True, cwd=REPO)
    line = next((l for l in result.stderr.splitlines() if l.startswith("HEAVY=")), None)
    if line is None:
        raise SystemExit(f"could not check the imports of rib {' '.join(args)}:\n{result.stderr}")
    return [m for m in line[len("HEAVY="):].split(",") if m]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    rib = rib_command()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "rib --help": rib + ["--help"],
        "rib list models": rib + ["list", "models"],
        "rib plugins": rib + ["plugins"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    times = rotate({name: (lambda c=c: run(c)) for name, c in commands.items()}, args.repeat)
    report = Report("startup", vars(args) | {"rib": " ".join(rib)})
    print(f"wall seconds of a fresh process, {args.repeat} rounds ({' '.join(rib)}):")
    for name, t in times.items():
        print(f"  {name:<26} {t.describe()}")
    torch_s = times['python -c "import torch"'].median
    for name in ("rib --help", "rib list models", "rib plugins", 'python -c "import torch"', "python -c pass"):
        report.figure(f"{name} seconds (median)", times[name].median, "s")
    for name in ("rib --help", "rib list models"):
        share = times[name].median / torch_s
        report.figure(f"{name} / import torch", share, "x", target="< 0.5", ok=share < 0.5)
    for cli_args in (["--help"], ["list", "models"]):
        heavy = heavy_imports(cli_args)
        report.figure(f"rib {' '.join(cli_args)} imports torch/timm/open_clip", int(bool(heavy)), "bool",
                      target="0", ok=not heavy, note=",".join(heavy))
    report.timings(times)
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
