"""SIGTERM (what SLURM, `kill` and `docker stop` send) as an exception in the main thread that is never lost.

Python runs a signal handler between two bytecodes of the main thread, wherever that thread is. The exception
it raises (`Terminated`, unwound like Ctrl-C: locks released, finished cells kept, exit 143) propagates from
almost everywhere, but not from the few places where Python swallows exceptions: the callbacks it runs around
fork() (os.register_at_fork; logging's lock release runs there each time DataLoader starts a worker), `__del__`
methods and weakref callbacks. There Python prints "Exception ignored in ..." and carries on, and the run went on
to finish with exit 0. So `sigterm_raises_terminated()` also watches what is swallowed (sys.unraisablehook): a
swallowed Terminated is raised again, asked for from another thread, as soon as the main thread runs ordinary
code (`_thread.interrupt_main`), and `raise_if_lost()` raises it at the latest when the command is about to
return.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import time


class Terminated(KeyboardInterrupt):
    """SIGTERM: unwound exactly like Ctrl-C, so locks are released and finished cells kept."""


class _Resender:
    """Raises a swallowed Terminated again until it lands in code that lets it propagate.

    The hook records the swallow (`lost`); a thread of its own asks the main thread to run the handler again
    (`_thread.interrupt_main`), waiting between tries, and stops once a raise was not swallowed. Only one request
    is pending at a time, so a Terminated that did land is never followed by a second one while it unwinds
    (releasing the lock, stopping the progress display).
    """

    def __init__(self):
        self.lock = threading.RLock()
        self.lost = False  # a Terminated was swallowed and has not been raised again since
        self.pending = False  # a request to run the handler is on its way to the main thread
        self.in_hook = False  # the main thread is inside our unraisable hook: a raise there is swallowed too
        self.thread: threading.Thread | None = None

    def handler(self, signum, frame):
        with self.lock:
            self.pending = False
            if self.in_hook:
                return  # it would be swallowed once more: the thread asks again in a moment
            self.lost = False
        raise Terminated()

    def swallowed(self) -> None:
        with self.lock:
            self.lost = True
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._resend, name="rib-sigterm", daemon=True)
                self.thread.start()

    def _resend(self) -> None:
        while True:
            with self.lock:
                if not self.lost:
                    return
                if not self.pending:
                    self.pending = True
                    _thread.interrupt_main(signal.SIGTERM)  # the handler runs at the main thread's next bytecode
            time.sleep(0.01)

    def hook(self, previous):
        def unraisable(info):
            if not isinstance(info.exc_value, Terminated):
                return previous(info)
            self.in_hook = True
            try:
                self.swallowed()
            finally:
                self.in_hook = False

        return unraisable

    def reset(self) -> None:
        with self.lock:
            self.lost = self.pending = False


_resender = _Resender()


@contextlib.contextmanager
def sigterm_raises_terminated():
    """While inside: SIGTERM raises Terminated in the main thread, and is never lost (see the module's doc).
    Outside the main thread (rib called from a thread), nothing changes: only the main thread gets signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_handler = signal.signal(signal.SIGTERM, _resender.handler)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _resender.hook(previous_hook)
    try:
        yield
    finally:
        _resender.reset()
        signal.signal(signal.SIGTERM, previous_handler)
        sys.unraisablehook = previous_hook


def raise_if_lost() -> None:
    """Raise Terminated if a SIGTERM was swallowed and has not been raised again yet (call before returning)."""
    with _resender.lock:
        lost, _resender.lost = _resender.lost, False
    if lost:
        raise Terminated()
