"""Conditional-GET validators (ETag, Last-Modified) per feed URL, kept in Redis.

Most polls of a news feed find nothing new; with validators the server answers 304 and sends no body, which saves
the publisher's bandwidth and our parse time. Keeping them in Redis rather than in memory means a restarted or
rescheduled consumer does not download every feed again. The poller saves them only after every story of that
response has been acknowledged by the broker, so a crash in between re-downloads rather than loses stories.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


class ValidatorStore:
    def __init__(self, redis: aioredis.Redis, namespace: str, ttl_s: int = 30 * 86400) -> None:
        self.redis = redis
        self.prefix = f"{namespace}:ingest:http:"
        self.ttl_s = ttl_s

    def _key(self, url: str) -> str:
        return self.prefix + hashlib.sha1(url.encode("utf-8")).hexdigest()[:20]

    async def load(self, url: str) -> Validators:
        stored = await self.redis.hgetall(self._key(url))
        values = {_text(key): _text(value) for key, value in stored.items()}
        return Validators(values.get("etag") or None, values.get("last_modified") or None)

    async def save(self, url: str, validators: Validators) -> None:
        key = self._key(url)
        if not validators:
            await self.redis.delete(key)
            return
        mapping: dict[FieldT, EncodableT] = {
            "url": url, "etag": validators.etag or "", "last_modified": validators.last_modified or ""}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
