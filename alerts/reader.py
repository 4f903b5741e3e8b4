"""Read :class:`alerts.series.KeySeries` from the Redis windows for the live detector, touching only what it needs.

Hour buckets first (the history and which hours hold any story), then minute buckets only inside hours that hold
stories. Buckets that end at or before the evaluated boundary can no longer change short of a story later than the
allowed lateness (the worker then calls :meth:`SeriesReader.forget` for the keys that batch touched), so they are
cached per key: a worker evaluating every few seconds reads only the newest hour and minutes, and a watermark that jumps
over a quiet month costs one read per hour of the jump for the keys involved, never one per minute.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from alerts.series import FIELDS, KeySeries, Table
from monitor.stages.windows.layout import WindowKeys
from monitor.stages.windows.spans import HOUR

MAX_CACHED_KEYS = 4096
KEEP_S = 7 * 86400
Row = tuple[int, ...]


@dataclass
class _Known:
    """Buckets of one level known final over ``[lo, hi)``; only non-empty ones are kept."""

    lo: int = 0
    hi: int = 0
    rows: dict[int, Row] = field(default_factory=dict)


@dataclass
class _KeyCache:
    hours: _Known = field(default_factory=_Known)
    minutes: _Known = field(default_factory=_Known)


def _row(data: dict) -> Row | None:
    if not data:
        return None
    decoded = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in data.items()}
    return tuple(decoded.get(name, 0) for name in FIELDS)


class SeriesReader:
    """Example::

        reader = SeriesReader(redis, "bw", bucket_seconds=60)
        series = await reader.read("ticker", ["AAPL"], hours_from=..., minutes_from=..., end=...)
    """

    def __init__(self, redis: aioredis.Redis, namespace: str, bucket_seconds: int) -> None:
        self.redis = redis
        self.keys = WindowKeys(namespace)
        self.step = bucket_seconds
        self._cache: OrderedDict[tuple[str, str], _KeyCache] = OrderedDict()

    def forget(self, keys: Iterable[tuple[str, str]] | None = None) -> None:
        """Drop cached buckets: of ``keys`` (scope, key) after a batch counted late stories for them, or all."""
        if keys is None:
            self._cache.clear()
            return
        for pair in keys:
            self._cache.pop(pair, None)

    async def read(self, scope: str, keys: Sequence[str], *, hours_from: int, minutes_from: int | None,
                   end: int) -> dict[str, KeySeries]:
        """Hour buckets over ``[hours_from, end)`` and, unless ``minutes_from`` is None, minute buckets over
        ``[minutes_from, end)`` inside hours that hold stories; ``end`` is the last boundary evaluated."""
        caches = [self._entry(scope, key) for key in keys]
        hour_hi = end // HOUR * HOUR
        await self._fill(scope, keys, caches, "hours", HOUR, hours_from // HOUR * HOUR, hour_hi, None)
        open_hours = await self._open_hour(scope, keys, hour_hi, end)
        out: dict[str, KeySeries] = {}
        if minutes_from is not None:
            occupied = [{h for h in cache.hours.rows} | ({hour_hi} if open_hours[i] else set())
                        for i, cache in enumerate(caches)]
            minutes_from = minutes_from // HOUR * HOUR  # whole hours: sums inside an hour start at its first minute
            await self._fill(scope, keys, caches, "minutes", self.step, minutes_from, end, occupied)
        for i, (key, cache) in enumerate(zip(keys, caches, strict=True)):
            hours = {h: r for h, r in cache.hours.rows.items() if hours_from // HOUR * HOUR <= h < hour_hi}
            minutes = ({m: r for m, r in cache.minutes.rows.items() if minutes_from <= m < end}
                       if minutes_from is not None else {})
            open_hour = open_hours[i]
            if open_hour is not None:
                hours[hour_hi] = open_hour
            out[key] = KeySeries(scope, key, self.step, Table.from_rows(minutes), Table.from_rows(hours))
        return out

    def _entry(self, scope: str, key: str) -> _KeyCache:
        entry = self._cache.pop((scope, key), None) or _KeyCache()
        self._cache[(scope, key)] = entry
        while len(self._cache) > MAX_CACHED_KEYS:
            self._cache.popitem(last=False)
        return entry

    async def _open_hour(self, scope: str, keys: Sequence[str], hour: int, end: int) -> list[Row | None]:
        """The hour that contains ``end`` (still filling): read every time, never cached."""
        if hour >= end:
            return [None] * len(keys)
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self.keys.bucket(HOUR, scope, key, hour))
        return [_row(data) for data in await pipe.execute()] if keys else []

    async def _fill(self, scope: str, keys: Sequence[str], caches: list[_KeyCache], level: str, size: int, lo: int,
                    hi: int, occupied: list[set[int]] | None) -> None:
        """Make every cache's ``level`` know ``[lo, hi)`` (buckets ending by ``hi`` are final)."""
        plans: list[tuple[_Known, list[int]]] = []
        pipe = self.redis.pipeline(transaction=False)
        for i, (key, cache) in enumerate(zip(keys, caches, strict=True)):
            known: _Known = getattr(cache, level)
            if known.hi <= known.lo or hi < known.lo or lo > known.hi:
                known.lo, known.hi, known.rows = lo, lo, {}
            missing = [*range(lo, min(known.lo, hi), size), *range(max(known.hi, lo), hi, size)]
            if occupied is not None:
                missing = [t for t in missing if t // HOUR * HOUR in occupied[i]]
            for start in missing:
                pipe.hgetall(self.keys.bucket(size, scope, key, start))
            plans.append((known, missing))
        replies = iter(await pipe.execute() if any(m for _, m in plans) else [])
        for known, missing in plans:
            for start in missing:
                row = _row(next(replies))
                if row is not None:
                    known.rows[start] = row
            known.lo, known.hi = min(known.lo, lo), max(known.hi, hi)
            if known.lo < lo - KEEP_S:  # bound memory: another rule may still want a little older history
                known.rows = {t: r for t, r in known.rows.items() if t >= lo - KEEP_S}
                known.lo = lo - KEEP_S
