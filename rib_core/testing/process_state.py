"""What a `rib` command may change in the process that runs it, put back afterwards: an in-process run in a test
then leaves the next test exactly what a fresh `python -m rib_core` would have had.

`main(argv)` is the same code a subprocess runs, but a process ends and a test session does not. A command
may build and cache the plugin registry, set environment variables (a launcher's job: `run_job` applies its
worker's environment), change torch's thread count (a suite's `cpu_threads`) and global RNGs (every fine-tune
seeds python, numpy and torch), install signal handlers, leave `sys.stdout` to a rich live display, or create
rich's global console while the output is captured. `preserved()` snapshots all of these and restores them.
Light: torch and numpy are only read if they are already imported (a command that imports them for the first
time starts from their defaults, as a fresh process does; the snapshot then restores those).
"""

from __future__ import annotations

import io
import os
import random
import signal
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout

# Signals a command might handle (SIGTERM ends a run like Ctrl-C); SIGKILL and SIGSTOP cannot be handled.
_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None),
                             getattr(signal, "SIGUSR1", None), getattr(signal, "SIGUSR2", None)) if s is not None)


def _torch_state():
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return torch.get_num_threads(), torch.random.get_rng_state()


def _numpy_state():
    numpy = sys.modules.get("numpy")
    return None if numpy is None else numpy.random.get_state()


def _restore_torch(state) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if state is None:  # first imported by the command: back to what a fresh process starts with
        state = (int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1, None)
    threads, rng = state
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if rng is not None:
        torch.random.set_rng_state(rng)


@contextmanager
def preserved():
    """Run the body (a `rib` command in this process), then undo its changes to process-wide state: the
    plugin registry, os.environ, the current directory, signal handlers, sys.stdout/stderr, rich's global
    console, torch's thread count, the python, numpy and torch RNGs, and the image-cache check memo."""
    from rib_core import plugins
    from rib_core.data import cache_check

    registry = plugins._registry
    environ = dict(os.environ)
    cwd = os.getcwd()
    handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    streams = sys.stdout, sys.stderr
    python_rng = random.getstate()
    numpy_rng = _numpy_state()
    torch_state = _torch_state()
    verified = set(cache_check._verified)
    try:
        yield
    finally:
        plugins._registry = registry  # a registry the command built (and cached) is dropped with the process
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
        if os.getcwd() != cwd:
            os.chdir(cwd)
        for number, handler in handlers.items():
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)
        sys.stdout, sys.stderr = streams
        _forget_rich_console()
        random.setstate(python_rng)
        if numpy_rng is not None:
            sys.modules["numpy"].random.set_state(numpy_rng)
        _restore_torch(torch_state)
        cache_check._verified.clear()
        cache_check._verified.update(verified)


def _forget_rich_console() -> None:
    """rich.print and friends use one global Console, created on first use: one created while a test captured
    the output would keep that capture's terminal detection for every later test."""
    rich = sys.modules.get("rich")
    if rich is not None and getattr(rich, "_console", None) is not None:
        rich._console = None


def run_cli(args) -> tuple[int, str, str]:
    """`rib ARGS` in this process: (exit code, stdout, stderr), and what it changed in the process put back."""
    from rib_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with preserved(), redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()
