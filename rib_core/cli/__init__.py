"""The `rib` command: one module per sub-command, each with `add_parser(subparsers)` and `run(args)`.

This package is the only code that reads argparse namespaces: each `run(args)` turns the parsed arguments into
explicit calls of the library (rib_core.config, rib_core.engine, rib_core.report, rib_core.data). Heavy modules
(torch, timm) are imported inside the commands that need them, so `rib --help`, `rib list` and `rib plugins` stay
fast.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from rib_core import __version__, signals
from rib_core.cli import bench, datasets, listing, report, status
from rib_core.cli.common import ArgumentParser
from rib_core.disk import disk_full
from rib_core.errors import RibError

COMMANDS = {"bench": bench, "report": report, "status": status, "list": listing, "plugins": listing,
            "datasets": datasets}


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


def main(argv: list[str] | None = None) -> int:
    with signals.sigterm_raises_terminated():  # SIGTERM unwinds like Ctrl-C and is never lost (rib_core/signals.py)
        return _main(argv)


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
    kept = None  # what an interruption keeps, as the command says it
    try:
        parser = build_parser()  # discovers plugins (launchers add options): a strict-mode failure exits cleanly
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        command = COMMANDS[args.command]
        kept = command.interrupted_note(args) if hasattr(command, "interrupted_note") else None
        code = command.run(args) or 0
        signals.raise_if_lost()  # a SIGTERM swallowed where Python ignores exceptions still ends the run as one
        return code
    except RibError as exc:
        if debug:
            traceback.print_exc()
        _say(f"rib: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        terminated = isinstance(exc, signals.Terminated)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        kept = getattr(exc, "kept", None) or kept  # the code interrupted may say what it keeps (a download's bytes)
        _say(f"rib: {what}; {kept}. Run the same command again to resume." if kept else f"rib: {what}.")
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
    except Exception as exc:
        # A full or read-only disk can strike at any write (rib's writes raise DiskFull, a RibError, above);
        # every store write is atomic, so say so and stop.
        full = disk_full(exc)
        if full is None:
            raise
        if debug:
            traceback.print_exc()
        _say(f"rib: error: {full}")
        return full.exit_code


def _say(text: str) -> None:
    """An error line on stderr, whatever the terminal's encoding (characters it cannot show are escaped)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    print(text.encode(encoding, errors="backslashreplace").decode(encoding, errors="replace"), file=stream)


if __name__ == "__main__":
    raise SystemExit(main())
