"""Progress of a run: a live display on a terminal; plain periodic lines when output goes to a file.

Under nohup or SLURM neither stream is a terminal, a live display would print nothing (or escape codes), so
every `RIB_PROGRESS_EVERY` seconds (default 60) one plain line says: cell n/N, the current cell and its own
progress, its rate, and the run's ETA.
"""

from __future__ import annotations

import collections
import threading
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rib_core.env import env_number

DEFAULT_EVERY_S = 60.0
RECENT_CELLS = 30  # the ETA follows the pace of the last cells


def _every_s() -> float:
    return max(env_number("RIB_PROGRESS_EVERY", DEFAULT_EVERY_S, minimum=0, what="seconds between plain progress "
                          "lines"), 0.05)


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class CellProgress:
    """The live display (terminal only)."""

    def __init__(self, console):
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console,
                                 transient=True)
        self.overall = None
        self.current = None
        self.unit = "images"

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("cells", total=total, completed=done, rate="")

    def cell_started(self, cell) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.unit = "steps" if cell.kind == "finetune" else "images"
        self.current = self.progress.add_task(cell.describe()[:60], total=max(cell.work, 1), rate="")

    def advance(self, n: int) -> None:
        if self.current is None:
            return
        self.progress.advance(self.current, n)
        task = self.progress.tasks[-1]
        if task.speed:
            self.progress.update(self.current, rate=f"{task.speed:.0f} {self.unit}/s")

    def cell_done(self, cell, ok: bool, seconds: float | None = None) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall)
        if not ok:
            self.console.print(f"[red]failed or skipped:[/] {cell.describe()}", highlight=False)

    def stop(self) -> None:
        self.progress.stop()


class PlainProgress:
    """Plain lines at a steady interval, from a background thread, for logs (nohup, SLURM)."""

    def __init__(self, console, every_s: float | None = None):
        self.file = console.file
        self.every_s = every_s or _every_s()
        self.lock = threading.Lock()
        self.total = self.done = self.done_at_start = 0
        self.cell = None
        self.cell_done_units = 0
        self.cell_started_at = self.started_at = self.last_done_at = time.monotonic()
        self.recent: collections.deque[float] = collections.deque(maxlen=RECENT_CELLS)  # seconds per cell
        self._stop = threading.Event()
        self._thread = None

    def _write(self, line: str) -> None:
        print(line, file=self.file, flush=True)

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.done_at_start = total, done, done
        self.started_at = self.last_done_at = time.monotonic()
        self._write(f"progress: {total - done} of {total} cell(s) to run; a line every {self.every_s:g} s "
                    f"(RIB_PROGRESS_EVERY)")
        self._thread = threading.Thread(target=self._loop, name="rib-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._write(self.line())

    def line(self) -> str:
        with self.lock:
            now = time.monotonic()
            parts = [f"progress: cell {min(self.done + 1, self.total)}/{self.total}"]
            if self.cell is not None:
                unit = "steps" if self.cell.kind == "finetune" else "images"
                parts.append(f"{self.cell.describe()}: {self.cell_done_units:,}/{max(self.cell.work, 1):,} {unit}")
                elapsed = now - self.cell_started_at
                if self.cell_done_units and elapsed > 0:
                    parts.append(f"{self.cell_done_units / elapsed:.1f} {unit}/s")
                elif not self.cell_done_units:
                    parts.append("starting (loading the model, preparing images)")
            run_for = now - self.started_at
            if self.recent:
                # The recent cells' pace, not the whole run's: a first cell that pretrains a model or builds the
                # image cache would otherwise inflate the ETA for the rest of the run.
                eta = sum(self.recent) / len(self.recent) * (self.total - self.done)
                parts.append(f"ETA {hms(eta)}")
            else:
                parts.append("ETA unknown (no cell finished yet)")
            parts.append(f"elapsed {hms(run_for)}")
            return " · ".join(parts)

    def cell_started(self, cell) -> None:
        with self.lock:
            self.cell, self.cell_done_units, self.cell_started_at = cell, 0, time.monotonic()

    def advance(self, n: int) -> None:
        with self.lock:
            self.cell_done_units += n

    def cell_done(self, cell, ok: bool, seconds: float | None = None) -> None:
        with self.lock:
            now = time.monotonic()
            self.done += 1
            self.cell = None
            self.recent.append(now - self.last_done_at)
            self.last_done_at = now
        if not ok:
            self._write(f"failed or skipped: {cell.describe()}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._write(f"progress: {self.done}/{self.total} cell(s) done · elapsed {hms(time.monotonic() - self.started_at)}")


def make_progress(console):
    return CellProgress(console) if console.is_terminal else PlainProgress(console)
