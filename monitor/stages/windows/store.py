"""``WindowStore``: the one read/write API over the Redis event-time windows.

The aggregate agent calls :meth:`WindowStore.apply` with batches of scored stories; the detector, the
dashboards, the status page and the CLI read rolling windows with :meth:`window`, :meth:`top`, :meth:`series`
and :meth:`recent`. A window ``(span, at)`` covers the closed buckets in ``[at - span, at)`` with ``at``
rounded down to a bucket boundary; ``at=None`` means the watermark, so by default only windows that can no
longer change (short of late stories) are shown. All reads of one call go through one pipeline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis.asyncio as aioredis

from monitor.ground.contracts import Sample, Scope, ScoredStory
from monitor.stages.windows import metrics
from monitor.stages.windows.layout import DEFAULT_ENTITY_MAX_KEYS, SCOPES, WindowKeys
from monitor.stages.windows.spans import cover, floor_to, from_ms, levels_for, parse_span, span_seconds, to_ms
from monitor.stages.windows.stats import METRICS, WindowStats, parse_sample, sum_buckets
from monitor.stages.windows.writer import ApplyResult, WindowWriter

DEFAULT_RETENTION_S = 8 * 86400  # the 7-day baseline plus a day of slack
MAX_SERIES_POINTS = 2000
WindowRequest = tuple[Scope, str, "str | timedelta", datetime]


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")


class WindowStore:
    """Event-time sentiment windows per scope key in Redis, under ``<namespace>:w:``.

    Example::

        store = WindowStore(redis, "bw", bucket_seconds=60, allowed_lateness_s=300)
        result = await store.apply(stories)                 # idempotent by story id
        stats = await store.window("ticker", "AAPL", "15m")  # ends at the watermark
        print(stats.count, stats.negative_share, [s.title for s in stats.samples])
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        namespace: str,
        bucket_seconds: int = 60,
        allowed_lateness_s: int = 300,
        sample_size: int = 5,
        *,
        retention_s: int = DEFAULT_RETENTION_S,
        recent_size: int = 200,
        entity_max_keys: int = DEFAULT_ENTITY_MAX_KEYS,
    ) -> None:
        if bucket_seconds < 1:
            raise ValueError("bucket_seconds must be at least 1")
        self.redis = redis
        self.namespace = namespace
        self.bucket_seconds = bucket_seconds
        self.allowed_lateness_s = allowed_lateness_s
        self.sample_size = sample_size
        self.levels = levels_for(bucket_seconds)
        self.keys = WindowKeys(namespace)
        self._writer = WindowWriter(
            redis, self.keys, self.levels, allowed_lateness_s, sample_size, retention_s, recent_size,
            entity_max_keys,
        )

    # ------------------------------------------------------------------ writing
    async def apply(self, stories: Sequence[ScoredStory]) -> ApplyResult:
        """Count ``stories`` into their buckets; a story id already counted is a no-op (``duplicates``)."""
        began = time.perf_counter()
        if not stories:
            return ApplyResult(watermark=await self.watermark())
        result = await self._writer.apply(stories)
        metrics.APPLY_SECONDS.observe(time.perf_counter() - began)
        return result

    # ------------------------------------------------------------------ time
    async def event_range(self) -> tuple[datetime | None, datetime | None]:
        """Earliest and latest event time ever applied in this namespace."""
        low, high = await self.redis.hmget(self.keys.meta, ["min_event", "max_event"])
        return (from_ms(int(low)) if low else None, from_ms(int(high)) if high else None)

    async def watermark(self) -> datetime | None:
        """Max event time seen minus the allowed lateness; ``None`` before the first story."""
        _, high = await self.event_range()
        return None if high is None else high - timedelta(seconds=self.allowed_lateness_s)

    def align(self, at: datetime) -> datetime:
        """``at`` rounded down to a bucket boundary (window ends are always boundaries)."""
        return from_ms(floor_to(to_ms(at) // 1000, self.bucket_seconds) * 1000)

    async def _default_at(self, at: datetime | None) -> datetime:
        if at is not None:
            return at
        return await self.watermark() or datetime.now(UTC)

    # ------------------------------------------------------------------ reading
    async def window(
        self,
        scope: Scope,
        key: str,
        span: str | timedelta,
        at: datetime | None = None,
        *,
        samples: bool = True,
    ) -> WindowStats:
        """Statistics of ``key`` over ``[at - span, at)``; ``samples`` adds its most negative headlines."""
        at = await self._default_at(at)
        return (await self.windows([(scope, key, span, at)], samples=samples))[0]

    async def windows(self, requests: Sequence[WindowRequest], *, samples: bool = False) -> list[WindowStats]:
        """Many windows in one pipeline (the detector reads every key and boundary of a batch at once)."""
        began = time.perf_counter()
        plans: list[tuple[Scope, str, timedelta, datetime, list[tuple[int, int]]]] = []
        pipe = self.redis.pipeline(transaction=False)
        for scope, key, span, at in requests:
            _check_scope(scope)
            end = floor_to(to_ms(at) // 1000, self.bucket_seconds)
            length = span_seconds(parse_span(span), self.bucket_seconds)
            blocks = cover(end - length, end, self.levels)
            for size, start in blocks:
                pipe.hgetall(self.keys.bucket(size, scope, key, start))
            plans.append((scope, key, timedelta(seconds=length), from_ms(end * 1000), blocks))
        replies = await pipe.execute() if plans else []
        results: list[WindowStats] = []
        sample_reads: list[tuple[int, list[tuple[int, int]]]] = []
        offset = 0
        for index, (scope, key, window_span, end_at, blocks) in enumerate(plans):
            hashes = replies[offset : offset + len(blocks)]
            offset += len(blocks)
            results.append(WindowStats.from_sums(scope, key, window_span, end_at, sum_buckets(hashes)))
            if samples and results[-1].count:
                sample_reads.append((index, [block for block, h in zip(blocks, hashes, strict=True) if h]))
        if sample_reads:
            results = await self._add_samples(results, sample_reads)
        metrics.READ_SECONDS.labels(op="windows").observe(time.perf_counter() - began)
        return results

    async def _add_samples(
        self, results: list[WindowStats], reads: list[tuple[int, list[tuple[int, int]]]]
    ) -> list[WindowStats]:
        pipe = self.redis.pipeline(transaction=False)
        for index, blocks in reads:
            stats = results[index]
            for size, start in blocks:
                pipe.zrange(self.keys.samples(size, stats.scope, stats.key, start), 0, self.sample_size - 1)
        replies = await pipe.execute()
        offset = 0
        for index, blocks in reads:
            members = [member for reply in replies[offset : offset + len(blocks)] for member in reply]
            offset += len(blocks)
            unique = {sample.id: sample for sample in map(parse_sample, members)}
            chosen = sorted(unique.values(), key=lambda s: (s.score, s.id))[: self.sample_size]
            stats = results[index]
            results[index] = replace(stats, samples=tuple(chosen))
        return results

    async def keys_seen(self, scope: Scope, since: datetime | None = None) -> dict[str, datetime]:
        """Known keys of a scope with their latest event time; only those active since ``since`` if given."""
        _check_scope(scope)
        low = "-inf" if since is None else to_ms(since)
        rows: list[tuple[bytes | str, float]] = cast(
            list[tuple[bytes | str, float]],
            await self.redis.zrangebyscore(self.keys.known(scope), low, "+inf", withscores=True))
        return {(m.decode() if isinstance(m, bytes) else m): from_ms(score) for m, score in rows}

    async def top(
        self,
        scope: Scope,
        span: str | timedelta,
        by: str = "negative_share",
        min_volume: float = 3,
        limit: int = 10,
        at: datetime | None = None,
    ) -> list[tuple[str, WindowStats]]:
        """Keys of ``scope`` ranked by a metric (descending; prefix ``-`` for ascending, e.g.
        ``-mean_score``).

        Only keys with a novelty-weighted volume of at least ``min_volume`` are ranked, so one stray headline
        cannot top the list. Ties break by key name, so the order is deterministic.
        """
        descending = not by.startswith("-")
        metric = by.lstrip("-")
        if metric not in METRICS:
            raise ValueError(f"unknown window metric {metric!r}: use one of {', '.join(METRICS)}")
        at = await self._default_at(at)
        length = timedelta(seconds=span_seconds(parse_span(span), self.bucket_seconds))
        active = await self.keys_seen(scope, since=self.align(at) - length)
        stats = await self.windows([(scope, key, span, at) for key in sorted(active)])
        ranked = [s for s in stats if s.count and s.novelty_volume >= min_volume]
        sign = -1.0 if descending else 1.0
        ranked.sort(key=lambda s: (sign * s.metric(metric), s.key))
        chosen = await self.windows([(scope, s.key, span, at) for s in ranked[:limit]], samples=True)
        return [(s.key, s) for s in chosen]

    async def series(
        self, scope: Scope, key: str, span: str | timedelta, step: str | timedelta, at: datetime | None = None
    ) -> list[tuple[datetime, WindowStats]]:
        """Consecutive windows of length ``step`` covering ``span`` up to ``at``, oldest first (charts)."""
        at = await self._default_at(at)
        step_s = span_seconds(parse_span(step), self.bucket_seconds)
        points = -(-span_seconds(parse_span(span), self.bucket_seconds) // step_s)
        if points > MAX_SERIES_POINTS:
            raise ValueError(
                f"series of {points} points is too long: use a larger step (max {MAX_SERIES_POINTS})"
            )
        end = self.align(at)
        ends = [end - timedelta(seconds=step_s * (points - 1 - i)) for i in range(points)]
        stats = await self.windows([(scope, key, timedelta(seconds=step_s), moment) for moment in ends])
        return list(zip(ends, stats, strict=True))

    async def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest scored headlines by event time, newest first (id, title, url, topic, label, score)."""
        members: list[bytes] = cast(list[bytes], await self.redis.zrevrange(self.keys.recent, 0, max(limit, 1) - 1))
        return [json.loads(m) for m in members]

    async def sample_stories(self, stats: WindowStats) -> list[Sample]:
        """The samples of an already-read window (re-read with samples when it was read without)."""
        if stats.samples or not stats.count:
            return list(stats.samples)
        full = await self.window(stats.scope, stats.key, stats.span, stats.at)  # type: ignore[arg-type]
        return list(full.samples)
