"""The per-minute sentiment index of a backtest: market, each topic and each ticker, one row per minute with news.

Computed from the scored stories as they stream by (the same scope keys the windows count a story under, see
:func:`monitor.stages.windows.writer.scope_keys`), with integer sums like the windows, and written as Parquet and CSV.
Only minutes that had stories get a row (a 4-month file is 170k minutes, most of them empty); a chart or a
notebook resamples from there. Columns: ``minute`` (UTC, start of the minute), ``scope``, ``key``, ``count``,
``negative``, ``neutral``, ``positive``, ``negative_share``, ``mean_score``, ``novelty_volume``,
``weighted_negative_share``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

from monitor.ground.contracts import ScoredStory
from monitor.stages.windows.spans import floor_to, from_ms, to_ms
from monitor.stages.windows.writer import scope_keys

INDEX_SCOPES = ("market", "topic", "ticker")
MICRO = 1_000_000
COLUMNS = ("minute", "scope", "key", "count", "negative", "neutral", "positive", "negative_share", "mean_score",
           "novelty_volume", "weighted_negative_share")


@dataclass
class _Cell:
    count: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    score_micro: int = 0
    novelty_micro: int = 0
    novelty_negative_micro: int = 0


@dataclass(frozen=True)
class Bin:
    """Market totals of one chart bin."""

    start: datetime
    count: int
    negative: int

    @property
    def negative_share(self) -> float:
        return self.negative / self.count if self.count else 0.0


class SentimentIndex:
    """Example::

        index = SentimentIndex()
        index.add(scored_batch)
        index.write(out / "index.parquet", out / "index.csv")
    """

    def __init__(self, bucket_seconds: int = 60) -> None:
        self.bucket_seconds = bucket_seconds
        self._cells: dict[tuple[int, str, str], _Cell] = defaultdict(_Cell)

    def add(self, stories: Iterable[ScoredStory]) -> None:
        for story in stories:
            minute = floor_to(to_ms(story.published_at) // 1000, self.bucket_seconds)
            label = story.sentiment.label
            novelty = round(story.novelty * MICRO)
            for scope, key in scope_keys(story):
                if scope not in INDEX_SCOPES:
                    continue
                cell = self._cells[(minute, scope, key)]
                cell.count += 1
                setattr(cell, label, getattr(cell, label) + 1)
                cell.score_micro += round(story.sentiment.score * MICRO)
                cell.novelty_micro += novelty
                if label == "negative":
                    cell.novelty_negative_micro += novelty

    def __len__(self) -> int:
        return len(self._cells)

    def rows(self) -> list[dict[str, object]]:
        out = []
        for (minute, scope, key), c in sorted(self._cells.items()):
            out.append({
                "minute": from_ms(minute * 1000), "scope": scope, "key": key, "count": c.count,
                "negative": c.negative, "neutral": c.neutral, "positive": c.positive,
                "negative_share": round(c.negative / c.count, 6),
                "mean_score": round(c.score_micro / c.count / MICRO, 6),
                "novelty_volume": round(c.novelty_micro / MICRO, 6),
                "weighted_negative_share": round(c.novelty_negative_micro / c.novelty_micro, 6)
                if c.novelty_micro else 0.0,
            })
        return out

    def market_bins(self, bin_seconds: int) -> list[Bin]:
        """Market counts per ``bin_seconds`` from the first to the last minute with news, empty bins included."""
        minutes = sorted((minute, cell) for (minute, scope, _), cell in self._cells.items() if scope == "market")
        if not minutes:
            return []
        first = floor_to(minutes[0][0], bin_seconds)
        last = floor_to(minutes[-1][0], bin_seconds)
        totals = {start: [0, 0] for start in range(first, last + 1, bin_seconds)}
        for minute, cell in minutes:
            total = totals[floor_to(minute, bin_seconds)]
            total[0] += cell.count
            total[1] += cell.negative
        return [Bin(from_ms(start * 1000), count, negative) for start, (count, negative) in totals.items()]

    def write(self, parquet_path: Path, csv_path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self.rows()
        columns = {name: [row[name] for row in rows] for name in COLUMNS}
        schema = pa.schema([
            ("minute", pa.timestamp("s", tz="UTC")), ("scope", pa.string()), ("key", pa.string()),
            ("count", pa.int64()), ("negative", pa.int64()), ("neutral", pa.int64()), ("positive", pa.int64()),
            ("negative_share", pa.float64()), ("mean_score", pa.float64()), ("novelty_volume", pa.float64()),
            ("weighted_negative_share", pa.float64()),
        ])
        pq.write_table(pa.table(columns, schema=schema), parquet_path)
        with csv_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "minute": cast(datetime, row["minute"]).isoformat()})
