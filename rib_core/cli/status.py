"""`rib status DIR`: every cell's state (done, in progress, failed, not run, pending) and the launcher's jobs."""

from __future__ import annotations

from pathlib import Path

from rib_core.cli.common import console


def add_parser(sub) -> None:
    status = sub.add_parser("status", help="done / in progress / failed / pending cells of a results directory")
    status.add_argument("dir", nargs="?", type=Path, default=Path("rib-results"))
    status.add_argument("--json", action="store_true")


def run(args) -> int:
    from rib_core.engine.status import print_status

    return print_status(args.dir, console(), as_json=args.json)
