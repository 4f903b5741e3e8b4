"""What one history run is asked to do: the one options type of ``bearwatch replay`` and ``bearwatch backtest``.

Both commands read a file the same way and run it into its own run namespace, so they share one type: the file,
the run id, the rules, the output folder and the reading options apply to both. A few fields belong to one
command only; they are grouped and named below, and the other command ignores them (a replay has no ``--from``,
a backtest no ``--speed``). One type means a flag added for reading or running reaches both commands in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from consumers.replay.readers import ReadOptions


@dataclass
class RunOptions:
    """Options of one replay or backtest run; only ``path`` is required."""

    path: Path
    run_id: str | None = None
    rules_file: Path | None = None
    out_dir: Path | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    # replay (Kafka and a real worker) only
    speed: float | None = None  # event seconds per wall second; None = as fast as possible
    stall_timeout_s: float = 300.0  # no story counted (or detector step) for this long: the replay has stalled
    ready_timeout_s: float = 180.0  # the replay's worker must answer /health within this
    # backtest (in process) only
    events_file: Path | None = None  # known events for the report card
    since: datetime | None = None  # --from: only stories at or after
    until: datetime | None = None  # --to: only stories before
    cache_path: Path | None = None  # score cache file (default var/cache/scores.sqlite)
