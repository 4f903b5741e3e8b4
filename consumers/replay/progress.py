"""Progress bars with rate and ETA for the long steps of a replay or backtest (reading, producing, scoring, ...).

A thin wrapper over :class:`rich.progress.Progress` so library code only sees :class:`Step` (``advance``,
``total``) and tests or quiet runs pass :data:`SILENT`. Steps may be advanced from a worker thread (reading runs
in one); rich's progress is thread-safe.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second over rich's sliding window ("1,234/s")."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="cyan")


class Step:
    """One bar. ``advance`` counts items done; ``total`` may be set once it is known."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task
        self.completed = 0

    def advance(self, n: int = 1) -> None:
        self.completed += n
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def total(self, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def describe(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)


class Bars:
    """A group of steps shown together while the ``with`` block runs."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        ) if enabled else None

    def step(self, description: str, total: int | None = None) -> Step:
        if self._progress is None:
            return Step(None, None)
        return Step(self._progress, self._progress.add_task(description, total=total))

    def __enter__(self) -> Bars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()


SILENT = Bars(enabled=False)
