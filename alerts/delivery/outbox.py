"""The durable outbox: one Redis stream per channel, read through a consumer group, plus a dead-letter list.

Why a stream with a consumer group (rather than a list and a processing set): entries keep their order, an
entry read but not acknowledged stays in the group's pending list, so a worker that dies mid-delivery loses
nothing (the next lease holder claims its pending entries with XAUTOCLAIM), and ``XDEL`` after the
acknowledgement keeps the stream short without ever trimming an undelivered entry.

Keys, under ``<namespace>:a:``: ``out:<channel>`` (stream; fields nid, group, fp, at, alert),
``tries:<channel>`` (hash entry id -> "attempts:next_ms:reason"), ``lease:<channel>`` (the one delivering
process), ``dead`` (list of JSON records), ``enq:<nid>`` (enqueue idempotency marker), ``history`` (recent
alert notifications).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis.typing import EncodableT

from alerts import metrics
from monitor.ground.contracts import Alert, decode

log = logging.getLogger(__name__)
GROUP = "bearwatch-notifier"
MARKER_TTL_S = 8 * 86400
HISTORY_SIZE = 500
_ENQUEUE = """ if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[3]) redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1) for i = 3, #KEYS
do redis.call('XADD', KEYS[i], '*', 'nid', ARGV[4], 'group', ARGV[5], 'fp', ARGV[6], 'at', ARGV[7], 'alert',
ARGV[3]) end return 1
"""
_LEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not owner and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end
return 0
"""
_RETRY = """ if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end local record =
cjson.decode(ARGV[1]) for _, e in ipairs(record.entries) do redis.call('XADD', KEYS[2], '*', 'nid', e.nid,
'group', e.group, 'fp', e.fp, 'at', ARGV[2], 'alert', e.alert) end return #record.entries
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Entry:
    """One alert notification waiting in a channel's stream."""

    id: str
    nid: str
    group: str
    fingerprint: str
    at_ms: int
    alert: Alert

    @classmethod
    def from_fields(cls, entry_id: Any, fields: dict[Any, Any]) -> Entry:
        data = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            _text(entry_id),
            data["nid"],
            data["group"],
            data["fp"],
            int(data["at"]),
            decode(Alert, data["alert"]),
        )


class Outbox:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.root = f"{namespace}:a"
        self._enqueue = redis.register_script(_ENQUEUE)
        self._lease = redis.register_script(_LEASE)
        self._release = redis.register_script(_RELEASE)
        self._retry = redis.register_script(_RETRY)

    def stream(self, channel: str) -> str:
        return f"{self.root}:out:{channel}"

    def tries_key(self, channel: str) -> str:
        return f"{self.root}:tries:{channel}"

    @property
    def dead_key(self) -> str:
        return f"{self.root}:dead"

    @property
    def history_key(self) -> str:
        return f"{self.root}:history"

    async def ensure_group(self, channel: str) -> None:
        """Create the consumer group from the start of the stream (entries enqueued earlier are delivered)."""
        try:
            await self.redis.xgroup_create(self.stream(channel), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def put(self, alert_json: str, nid: str, group: str, fingerprint: str, channels: list[str]) -> bool:
        """Add one notification to the channels' streams atomically; False if ``nid`` was already enqueued."""
        keys = [f"{self.root}:enq:{nid}", self.history_key, *(self.stream(c) for c in channels)]
        args: list[EncodableT] = [MARKER_TTL_S, HISTORY_SIZE, alert_json, nid, group, fingerprint, now_ms()]
        return bool(await self._enqueue(keys=keys, args=args))

    async def hold_lease(self, channel: str, consumer: str, lease_ms: int) -> int:
        """1: still ours (renewed); 2: just acquired (claim the previous owner's entries); 0: not ours."""
        return int(await self._lease(keys=[f"{self.root}:lease:{channel}"], args=[consumer, lease_ms]))

    async def release_lease(self, channel: str, consumer: str) -> None:
        await self._release(keys=[f"{self.root}:lease:{channel}"], args=[consumer])

    async def claim_all(self, channel: str, consumer: str) -> list[Entry]:
        """Take over every pending (read, unacknowledged) entry of the channel, in stream order."""
        entries: list[Entry] = []
        cursor = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                self.stream(channel), GROUP, consumer, 0, start_id=cursor, count=500
            )
            cursor, claimed = _text(reply[0]), reply[1]
            entries.extend(await self._parse(channel, claimed))
            if cursor == "0-0":
                break
        return sorted(entries, key=lambda e: tuple(map(int, e.id.split("-"))))

    async def read_new(self, channel: str, consumer: str, count: int = 200) -> list[Entry]:
        reply: list[Any] = cast(
            list[Any], await self.redis.xreadgroup(GROUP, consumer, {self.stream(channel): ">"}, count=count))
        return await self._parse(channel, [row for _, rows in reply for row in rows])

    async def _parse(self, channel: str, rows: list[Any]) -> list[Entry]:
        """Entries of ``rows``; an unreadable one is logged, counted and dead-lettered, never retried."""
        entries = []
        for entry_id, fields in rows:
            if not fields:
                continue  # deleted while pending
            try:
                entries.append(Entry.from_fields(entry_id, fields))
            except (KeyError, ValueError) as exc:
                log.error(
                    "channel %s: unreadable outbox entry %s (%s): dead-lettered", channel, entry_id, exc
                )
                metrics.BAD_ENTRIES.labels(channel=channel).inc()
                record = {
                    "channel": channel,
                    "reason": f"unreadable outbox entry: {exc}",
                    "attempts": 0,
                    "failed_at_ms": now_ms(),
                    "entries": [],
                    "raw": {_text(k): _text(v) for k, v in fields.items()},
                }
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lpush(self.dead_key, json.dumps(record))
                    pipe.xack(self.stream(channel), GROUP, entry_id)
                    pipe.xdel(self.stream(channel), entry_id)
                    await pipe.execute()
        return entries

    async def tries(self, channel: str, entry_id: str) -> tuple[int, int, str]:
        """(attempts so far, earliest next attempt ms, last reason) of the group headed by ``entry_id``."""
        value = await self.redis.hget(self.tries_key(channel), entry_id)
        if value is None:
            return 0, 0, ""
        attempts, next_ms, reason = _text(value).split(":", 2)
        return int(attempts), int(next_ms), reason

    async def record_failure(
        self, channel: str, entry_id: str, attempts: int, next_ms: int, reason: str
    ) -> None:
        await self.redis.hset(self.tries_key(channel), entry_id, f"{attempts}:{next_ms}:{reason}")

    async def ack(self, channel: str, entries: list[Entry]) -> None:
        ids = [e.id for e in entries]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream(channel), GROUP, *ids)
            pipe.xdel(self.stream(channel), *ids)
            pipe.hdel(self.tries_key(channel), *ids)
            await pipe.execute()

    async def dead_letter(self, channel: str, entries: list[Entry], reason: str, attempts: int) -> None:
        """Move a failed group to the dead-letter list (with why) and out of the stream, atomically."""
        record = {
            "channel": channel,
            "reason": reason,
            "attempts": attempts,
            "failed_at_ms": now_ms(),
            "entries": [
                {"nid": e.nid, "group": e.group, "fp": e.fingerprint, "alert": e.alert.model_dump_json()}
                for e in entries
            ],
        }
        ids = [e.id for e in entries]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.dead_key, json.dumps(record))
            pipe.xack(self.stream(channel), GROUP, *ids)
            pipe.xdel(self.stream(channel), *ids)
            pipe.hdel(self.tries_key(channel), *ids)
            await pipe.execute()

    async def dead(self) -> list[dict[str, Any]]:
        """Dead-lettered notifications, newest first."""
        return [json.loads(item) for item in await self.redis.lrange(self.dead_key, 0, -1)]

    async def retry_dead(self, channel: str | None = None) -> int:
        """Put dead-lettered notifications (one channel's, or all) back at the end of their stream."""
        moved = 0
        for raw in await self.redis.lrange(self.dead_key, 0, -1):
            record = json.loads(raw)
            if channel is not None and record["channel"] != channel:
                continue
            # atomic: only the caller whose LREM removed the record re-adds its entries
            stream = self.stream(record["channel"])
            moved += int(await self._retry(keys=[self.dead_key, stream], args=[raw, 0]))  # at=0: due at once
        return moved

    async def pending_count(self, channel: str) -> int:
        return int(await self.redis.xlen(self.stream(channel)))

    async def history(self, limit: int = 50) -> list[Alert]:
        return [decode(Alert, raw) for raw in await self.redis.lrange(self.history_key, 0, limit - 1)]
