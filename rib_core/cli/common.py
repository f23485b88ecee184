"""What several sub-commands share: the console they print to and the arguments that name a suite or the data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rib_core.errors import UsageError

from rib_core.report.terminal import stdout_console as console  # noqa: F401 - the one console of every command


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 through our own error path (one screen, no traceback)
        raise UsageError(f"{message}\nRun '{self.prog} --help' for usage.")


def add_suite_arguments(parser, what: str = "suite file") -> None:
    parser.add_argument("-c", "--config", type=Path, help=f"{what} (default: ./benchmarks.toml, else the packaged "
                        "suites)")
    parser.add_argument("--suite", help="suite name (default: the file's 'default', else 'demo')")


def add_data_root_argument(parser, *, deprecated_root: bool = False) -> None:
    parser.add_argument("--data-root", help="folder holding the datasets (default: the suite's data_root, else "
                        "RIB_DATA_ROOT)")
    if deprecated_root:  # `rib datasets get --root` (0.1): one release of grace, then removed (rib_core/deprecated.py)
        parser.add_argument("--root", dest="deprecated_root", help="deprecated since 0.2: use --data-root")


def data_root_of(args) -> str | None:
    """--data-root, or the deprecated --root of `rib datasets get` (with a warning)."""
    old = getattr(args, "deprecated_root", None)
    if old:
        print("rib: warning: --root is deprecated since 0.2 and will be removed in 0.3; use --data-root.",
              file=sys.stderr)
        if args.data_root and args.data_root != old:
            raise UsageError(f"--root {old} and --data-root {args.data_root} disagree; give only --data-root.")
    return args.data_root or old
