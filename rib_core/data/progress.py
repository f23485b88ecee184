"""Progress of downloads: a rich bar per file (bytes, rate, ETA) on a terminal, plain lines otherwise."""

from __future__ import annotations

import time

PLAIN_EVERY_S = 10.0  # a plain line at most this often per file (logs stay short)


def make_progress(console):
    return RichProgress(console) if console.is_terminal else PlainProgress(console)


def human(n: int | None) -> str:
    if n is None:
        return "unknown size"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


class PlainProgress:
    def __init__(self, console):
        self.console = console
        self.tasks = {}

    def start(self, name, total, done):
        start = f"resuming at {human(done)} of" if done else "downloading"
        self.console.print(f"{name}: {start} {human(total)}", highlight=False)
        key = object()
        self.tasks[key] = [name, total, done, time.monotonic(), time.monotonic(), done]
        return key

    def advance(self, key, n):
        task = self.tasks[key]
        task[2] += n
        now = time.monotonic()
        if now - task[4] >= PLAIN_EVERY_S:
            rate = (task[2] - task[5]) / max(now - task[3], 1e-9)
            share = f" ({100 * task[2] / task[1]:.0f}%)" if task[1] else ""
            self.console.print(f"{task[0]}: {human(task[2])}{share} at {human(int(rate))}/s", highlight=False)
            task[4] = now

    def stop(self, key):
        name, total, done, *_ = self.tasks.pop(key)
        self.console.print(f"{name}: {human(done)} received", highlight=False)


class RichProgress:
    """One rich bar per file; a finished bar stays on screen as the file's record."""

    def __init__(self, console):
        self.console = console
        self.bars = {}

    def start(self, name, total, done):
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       TimeRemainingColumn(), console=self.console)
        bar.start()
        key = object()
        self.bars[key] = (bar, bar.add_task(name, total=total, completed=done))
        return key

    def advance(self, key, n):
        bar, task = self.bars[key]
        bar.advance(task, n)

    def stop(self, key):
        bar, _ = self.bars.pop(key)
        bar.stop()
