"""One live progress display: overall cells, and the current cell with its rate and ETA."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class CellProgress:
    def __init__(self, console):
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console,
                                 transient=True, disable=not self.live)
        self.overall = None
        self.current = None
        self.failed = 0

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.overall = self.progress.add_task("cells", total=total, completed=done, rate="")

    def cell_started(self, cell) -> None:
        unit = "steps" if cell.kind == "finetune" else "images"
        if self.current is not None:
            self.progress.remove_task(self.current)
        self.unit = unit
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
            self.failed += 1
            self.console.print(f"[red]failed or skipped:[/] {cell.describe()}")

    def stop(self) -> None:
        self.progress.stop()


def make_progress(console) -> CellProgress:
    return CellProgress(console)
