"""Progress bars with rate and ETA for the long steps of a replay or backtest (reading, producing, scoring, ...).

A thin wrapper over :class:`rich.progress.Progress` so library code only sees :class:`Step` (``advance``,
``total``) and tests or quiet runs pass :data:`SILENT`. Steps may be advanced from a worker thread (reading runs
in one); rich's progress is thread-safe. When the output is not a terminal (``> run.log``), rich would print the
bars only at the end, so each step writes a plain line instead, at most every :data:`LOG_EVERY_S` seconds.
"""

from __future__ import annotations

import threading
import time
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


LOG_EVERY_S = 10.0


class _LineLog:
    """Progress as plain lines for a console that is not a terminal."""

    def __init__(self, console: Console, description: str, total: int | None) -> None:
        self.console, self.description, self.total_ = console, description, total
        self.began = self.last = time.monotonic()
        self._lock = threading.Lock()

    def tick(self, completed: int, final: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not final and now - self.last < LOG_EVERY_S:
                return
            self.last = now
        of = f"/{self.total_:,}" if self.total_ else ""
        rate = completed / (now - self.began) if now > self.began else 0.0
        self.console.print(f"{self.description}: {completed:,}{of} ({rate:,.0f}/s, {now - self.began:.0f} s)",
                           highlight=False, soft_wrap=True)


class Step:
    """One bar. ``advance`` counts items done; ``total`` may be set once it is known."""

    def __init__(self, progress: Progress | None, task: TaskID | None, lines: _LineLog | None = None) -> None:
        self._progress = progress
        self._task = task
        self._lines = lines
        self.completed = 0

    def advance(self, n: int = 1) -> None:
        self.completed += n
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)
        if self._lines is not None:
            total = self._lines.total_
            self._lines.tick(self.completed, final=total is not None and total > 0 and self.completed >= total)

    def total(self, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)
        if self._lines is not None:
            self._lines.total_ = total

    def describe(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=text)


class Bars:
    """A group of steps shown together while the ``with`` block runs."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self._lines_to = console if enabled and console is not None and not console.is_terminal else None
        self._progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
        ) if enabled and self._lines_to is None else None

    def step(self, description: str, total: int | None = None) -> Step:
        if self._lines_to is not None:
            return Step(None, None, _LineLog(self._lines_to, description, total))
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
