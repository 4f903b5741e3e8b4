"""Per-feed health in Redis, written by the poller and read by ``bearwatch feeds list`` and ``/health``.

Prometheus gauges die with the process; the health record in Redis survives it and is visible to any process
(the CLI, another ingest replica), which is what an operator asks when a feed goes quiet: when did it last work,
how often has it failed since, and what was the last error.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

import redis.asyncio as aioredis


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


class HealthStore:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.prefix = f"{namespace}:ingest:health:"
        self.index = f"{namespace}:ingest:feeds"

    async def record(self, health: FeedHealth) -> None:
        mapping = {key: str(value) for key, value in asdict(health).items()}
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
