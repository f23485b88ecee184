"""The `rib` command: one module per sub-command, each with `add_parser(subparsers)` and `run(args)`.

This package is the only code that reads argparse namespaces: each `run(args)` turns the parsed arguments into
explicit calls of the library (rib_core.config, rib_core.engine, rib_core.report, rib_core.data). Heavy modules
(torch, timm) are imported inside the commands that need them, so `rib --help`, `rib list` and `rib plugins` stay
fast.
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback

from rib_core import __version__
from rib_core.cli import bench, datasets, listing, report, status
from rib_core.cli.common import ArgumentParser
from rib_core.errors import RibError

COMMANDS = {"bench": bench, "report": report, "status": status, "list": listing, "plugins": listing,
            "datasets": datasets}
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="rib", description="ImageNet-RIB: how much robustness does a pretrained model "
                            "keep after fine-tuning? Runs the protocol, stores every result, reports RI and mRI.")
    parser.add_argument("--version", action="version", version=f"rib {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    bench.add_parser(sub)
    listing.add_parsers(sub)
    datasets.add_parser(sub)
    report.add_parser(sub)
    status.add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (what SLURM and `kill` send): unwound exactly like Ctrl-C, so locks are released and cells kept."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _tolerate_narrow_encodings() -> None:
    """A terminal or pipe that cannot encode the report's characters (Δ, ·, box lines: LANG=C on old systems,
    PYTHONIOENCODING=ascii) shows them as '?' instead of crashing after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            "Δ·—━".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):
                pass


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _tolerate_narrow_encodings()
    debug = "--debug" in argv
    kept = "finished cells are kept"
    try:
        parser = build_parser()  # discovers plugins (launchers add options): a strict-mode failure exits cleanly
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        command = COMMANDS[args.command]
        kept = command.interrupted_note(args) if hasattr(command, "interrupted_note") else kept
        return command.run(args) or 0
    except RibError as exc:
        if debug:
            traceback.print_exc()
        _say(f"rib: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        terminated = isinstance(exc, Terminated)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        _say(f"rib: {what}; {kept}. Run the same command again to resume.")
        return 143 if terminated else 130
    except BrokenPipeError:
        return 0
    except UnicodeEncodeError as exc:
        # A terminal or pipe whose encoding cannot show a character of the report ("Δ", "—"): the work is done and
        # stored; say how to see it instead of a traceback.
        if debug:
            traceback.print_exc()
        _say(f"rib: error: this terminal's encoding ({exc.encoding}) cannot show the character {exc.object[exc.start:exc.end]!r}. "
             "Everything computed is stored. Set a UTF-8 locale (e.g. LANG=C.UTF-8) or PYTHONIOENCODING=utf-8 and "
             "run the command again ('rib report DIR' prints the report without re-running anything).")
        return 1
    except OSError as exc:
        # A full or read-only disk can strike at any write; every store write is atomic, so say so and stop.
        if exc.errno not in DISK_FULL_ERRNOS:
            raise
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        _say(f"rib: error: {exc.strerror}{where}\nFree some space (or use another --out / RIB_CACHE_DIR) and run the "
             "same command again: finished cells are kept and every stored file is complete.")
        return 1


def _say(text: str) -> None:
    """An error line on stderr, whatever the terminal's encoding (characters it cannot show are escaped)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    print(text.encode(encoding, errors="backslashreplace").decode(encoding, errors="replace"), file=stream)


if __name__ == "__main__":
    raise SystemExit(main())
