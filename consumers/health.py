"""Per-feed health in Redis, written by the poller and read by ``bearwatch feeds list`` and ``/health``.

Prometheus gauges die with the process; the health record in Redis survives it and is visible to any process
(the CLI, another ingest replica), which is what an operator asks when a feed goes quiet: when did it last work,
how often has it failed since, and what was the last error.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT


@dataclass
class FeedHealth:
    feed: str
    status: str = "unknown"  # ok | failing | unhealthy | unknown
    consecutive_failures: int = 0
    last_poll: float = 0.0
    last_success: float = 0.0
    last_error: str = ""
    last_error_kind: str = ""
    next_poll: float = 0.0
    stories: int = 0

    @classmethod
    def from_redis(cls, feed: str, raw: dict[bytes | str, bytes | str]) -> FeedHealth:
        values = {_text(key): _text(value) for key, value in raw.items()}
        health = cls(feed)
        for spec in fields(cls):
            if spec.name in values and spec.name != "feed":
                caster = {"int": int, "float": float}.get(str(spec.type), str)
                try:
                    setattr(health, spec.name, caster(values[spec.name]))
                except ValueError:
                    continue
        return health


@dataclass
class IngestSummary:
    """The consumers as a whole: when they started, when any feed last succeeded, the last error of any feed.

    Offline (every feed failing) the service itself is fine, which is why ``/health`` once stayed "ok" while
    nothing came in; this record lets ``/health`` and the status page say so.
    """

    started_at: float = 0.0
    last_success: float = 0.0
    last_error: str = ""
    feeds: int = 0

    def stale_reason(self, at: float, after_s: float) -> str | None:
        """Why the news is stale (one line), or None while some feed succeeded within ``after_s``."""
        if not self.feeds or not self.started_at:
            return None
        reference = self.last_success or self.started_at
        if at - reference < after_s:
            return None
        minutes = (at - reference) / 60
        what = (f"no feed succeeded in the last {minutes:.0f} min" if self.last_success
                else f"no feed has succeeded since the consumers started {minutes:.0f} min ago")
        return what + (f" (last error: {self.last_error})" if self.last_error else "")

    @classmethod
    def from_redis(cls, raw: dict[bytes | str, bytes | str]) -> IngestSummary | None:
        values = {_text(key): _text(value) for key, value in raw.items()}
        if not values:
            return None
        try:
            return cls(float(values.get("started_at", 0)), float(values.get("last_success", 0)),
                       values.get("last_error", ""), int(values.get("feeds", 0)))
        except ValueError:
            return None


class HealthStore:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.prefix = f"{namespace}:ingest:health:"
        self.index = f"{namespace}:ingest:feeds"
        self.summary_key = f"{namespace}:ingest:summary"

    async def record_summary(self, summary: IngestSummary) -> None:
        await self.redis.hset(self.summary_key, mapping={k: str(v) for k, v in asdict(summary).items()})

    async def load_summary(self) -> IngestSummary | None:
        return IngestSummary.from_redis(await self.redis.hgetall(self.summary_key))

    async def record(self, health: FeedHealth) -> None:
        mapping: dict[FieldT, EncodableT] = {key: str(value) for key, value in asdict(health).items()}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.prefix + health.feed, mapping=mapping)
            pipe.sadd(self.index, health.feed)
            await pipe.execute()

    async def load(self, feed: str) -> FeedHealth:
        return FeedHealth.from_redis(feed, await self.redis.hgetall(self.prefix + feed))

    async def load_all(self, feeds: list[str] | None = None) -> list[FeedHealth]:
        names = feeds if feeds is not None else sorted(_text(name) for name in await self.redis.smembers(self.index))
        return [await self.load(name) for name in names]


def now() -> float:
    return time.time()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
