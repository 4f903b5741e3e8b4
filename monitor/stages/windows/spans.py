"""Span strings and bucket arithmetic in event time.

Windows are sums of fixed buckets at several resolutions ("levels"): the configured bucket (1 min by default),
hours and days. A rolling window is covered greedily by the coarsest aligned blocks that fit, so a 7-day view
reads a few hundred keys at most instead of 10,080 minute buckets. Everything here is pure arithmetic on
integer epoch seconds/milliseconds so the same story always lands in the same bucket on every worker and in a
replay.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from monitor.ground.errors import BearwatchError

_SPAN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
HOUR = 3600
DAY = 86400


class SpanError(ValueError, BearwatchError):
    """A span string such as ``"15m"`` could not be understood."""


def parse_span(span: str | timedelta) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` or a timedelta -> a positive timedelta."""
    if isinstance(span, timedelta):
        value = span
    else:
        match = _SPAN.match(str(span))
        if match is None:
            raise SpanError(f"span {span!r} is not understood: use a number and a unit s/m/h/d/w, e.g. '15m'")
        value = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if value <= timedelta(0):
        raise SpanError(f"span {span!r} must be positive")
    return value


def format_span(span: timedelta) -> str:
    """The shortest exact span string, e.g. ``timedelta(hours=1)`` -> ``"1h"``."""
    seconds = int(span.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive datetimes are a caller bug)."""
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware (UTC)")
    return int(moment.timestamp() * 1000)


def from_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def levels_for(bucket_seconds: int) -> tuple[int, ...]:
    """Bucket sizes in seconds, finest first. Coarser levels are used only where they nest exactly."""
    levels = [bucket_seconds]
    for coarse in (HOUR, DAY):
        if coarse > levels[-1] and coarse % levels[-1] == 0:
            levels.append(coarse)
    return tuple(levels)


def floor_to(seconds: int, size: int) -> int:
    return (seconds // size) * size


def span_seconds(span: timedelta, bucket_seconds: int) -> int:
    """The span in seconds rounded up to whole buckets (a window is always a whole number of buckets)."""
    seconds = int(span.total_seconds())
    return -(-seconds // bucket_seconds) * bucket_seconds


def cover(start: int, end: int, levels: tuple[int, ...]) -> list[tuple[int, int]]:
    """Blocks ``(size, block_start)`` that exactly tile ``[start, end)``, coarsest that fit.

    ``start`` and ``end`` must be aligned to ``levels[0]``. The result has at most
    ``2 * (size_k / size_{k-1} - 1)`` blocks per finer level plus the whole coarse blocks.
    """
    if start >= end:
        return []
    size = levels[-1]
    if len(levels) == 1:
        return [(size, t) for t in range(start, end, size)]
    first = -(-start // size) * size
    last = floor_to(end, size)
    if first >= last:
        return cover(start, end, levels[:-1])
    return (
        cover(start, first, levels[:-1])
        + [(size, t) for t in range(first, last, size)]
        + cover(last, end, levels[:-1])
    )
