"""The `rib` command. Heavy modules (torch, timm) are imported inside the commands that need them."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from pathlib import Path

from rib_core import __version__
from rib_core.data.get_cli import add_get_parsers
from rib_core.errors import RibError, UsageError
from rib_core.plugins import KINDS

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 through our own error path (one screen, no traceback)
        raise UsageError(f"{message}\nRun '{self.prog} --help' for usage.")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="rib", description="ImageNet-RIB: how much robustness does a pretrained model "
                            "keep after fine-tuning? Runs the protocol, stores every result, reports RI and mRI.")
    parser.add_argument("--version", action="version", version=f"rib {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    bench = sub.add_parser("bench", help="run a suite (resumes where a previous run stopped)")
    bench.add_argument("-c", "--config", type=Path, help="suite file (default: ./benchmarks.toml, else the packaged suites)")
    bench.add_argument("--suite", help="suite name (default: the file's 'default', else 'demo')")
    bench.add_argument("--out", type=Path, default=Path("rib-results"), help="results directory (default: ./rib-results)")
    bench.add_argument("--dry-run", action="store_true", help="print the plan and what is missing; run nothing")
    bench.add_argument("--device", default="auto", help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps")
    bench.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                       help="processes decoding images when the cache is built")
    bench.add_argument("--shard", help="I/N: run the I-th of N deterministic parts of the grid (1-based)")
    bench.add_argument("--weights", action="append", metavar="[MODEL=]FILE", default=[],
                       help="local weights (safetensors, or a torch file loaded with weights_only=True) for a model "
                            "of the suite, by its label; FILE alone when the suite has one model. Repeatable.")
    bench.add_argument("--no-report", action="store_true", help="do not print the report at the end")
    bench.add_argument("--no-calibrate", action="store_true",
                       help="with --dry-run: estimate time from the documented table instead of measuring")
    add_launcher_arguments(bench)

    plugins = sub.add_parser("plugins", help="installed plugins, what they register, and their status")
    plugins.add_argument("--json", action="store_true")

    lister = sub.add_parser("list", help="registered models, datasets, strategies, metrics or report formats")
    lister.add_argument("kind", choices=sorted(KINDS))
    lister.add_argument("--json", action="store_true")

    datasets = sub.add_parser("datasets", help="dataset utilities")
    dsub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=ArgumentParser)
    check = dsub.add_parser("check", help="verify datasets on disk: counts, classes, unreadable files")
    check.add_argument("names", nargs="*", help="dataset names (default: every dataset of the suite)")
    check.add_argument("-c", "--config", type=Path)
    check.add_argument("--suite")
    check.add_argument("--data-root", help="where the datasets are (default: the suite's data_root or RIB_DATA_ROOT)")
    check.add_argument("--deep", action="store_true", help="open every image to find unreadable files")
    check.add_argument("--digest", type=Path, help="manifest file: write it if absent, else compare against it")
    check.add_argument("--json", action="store_true")
    add_get_parsers(dsub)

    report = sub.add_parser("report", help="print or export the report of a results directory")
    report.add_argument("dir", nargs="?", type=Path, default=Path("rib-results"))
    report.add_argument("--suite", help="only this suite's results (default: every suite in DIR, each on its own)")
    report.add_argument("--format", default="table", help="table (default), json, csv, or a plugin's format")
    report.add_argument("--plot", type=Path, help="write the paper figures: FILE (accuracy-change heatmaps), "
                        "FILE-mri and FILE-scatter, as .png, .svg or .pdf")
    report.add_argument("--plot-style", default="paper", help="'paper' (two-column paper figure, default) or a "
                        "matplotlib style file/name")
    report.add_argument("--compare", nargs=2, metavar=("A", "B"), help="paired difference of RI/mRI between two "
                        "strategies (same model) or two models (same strategy)")
    report.add_argument("--against", metavar="paper", help="print the paper's numbers next to rib's")

    status = sub.add_parser("status", help="done / in progress / failed / pending cells of a results directory")
    status.add_argument("dir", nargs="?", type=Path, default=Path("rib-results"))
    status.add_argument("--json", action="store_true")
    return parser


def add_launcher_arguments(bench) -> None:
    """--launcher and the options every installed launcher plugin adds (from its light `arguments` function)."""
    from rib_core.plugins import get_registry

    group = bench.add_argument_group("launchers (docs/cluster.md)")
    group.add_argument("--launcher", default="local",
                       help="who runs the grid's jobs: local (this process, default) or a launcher plugin "
                            "(rib list launchers), e.g. submitit (SLURM) or ray")
    group.add_argument("--gpus-per-job", type=int, default=None, metavar="G",
                       help="GPUs each job asks its scheduler for (launcher plugins; default 1 with --device "
                            "cuda, 0 with cpu; with auto, 1 where the jobs' machines have GPUs, else 0)")
    group.add_argument("--cpus-per-job", type=int, default=None, metavar="C",
                       help="CPUs each job asks its scheduler for (launcher plugins; default: the plugin's)")
    group.add_argument("--max-retries", type=int, default=2, metavar="N",
                       help="launcher plugins: run a job whose process died again, up to N times (default 2)")
    for reg in get_registry().names("launchers"):
        target = reg.extra.get("arguments")
        if not target:
            continue
        try:
            add = reg.load_extra("arguments")
            add(bench.add_argument_group(f"--launcher {reg.name} (plugin {reg.plugin})"))
        except Exception as exc:  # a broken plugin must not break `rib --help`
            print(f"rib: warning: launcher '{reg.name}' options unavailable: {exc}", file=sys.stderr)


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


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        parser = build_parser()  # discovers plugins (launchers add options): a strict-mode failure exits cleanly
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "datasets" and args.datasets_command is None:
            raise UsageError("'rib datasets' needs an action: check, get or sources")
        from rib_core import commands

        return getattr(commands, args.command)(args) or 0
    except RibError as exc:
        if debug:
            traceback.print_exc()
        print(f"rib: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        terminated = isinstance(exc, Terminated)
        what = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"rib: {what}; finished cells are kept. Run the same command again to resume.", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A full or read-only disk can strike at any write; every store write is atomic, so say so and stop.
        if exc.errno not in DISK_FULL_ERRNOS:
            raise
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        print(f"rib: error: {exc.strerror}{where}\nFree some space (or use another --out / RIB_CACHE_DIR) and run the "
              "same command again: finished cells are kept and every stored file is complete.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
