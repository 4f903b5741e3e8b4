"""When is a Kafka replay finished, and what did it raise? Answered from Redis and the run's topics.

Finished means, in this order:

1. every story of the file is counted in the windows: its idempotency marker ``<ns>:w:seen:<id>`` exists (or it
   was dead-lettered by the worker, which :func:`dead_letter_ids` reads from the run's dead-letter topic);
2. every enabled rule's detector position (``<ns>:a:pos``) reached the last boundary the final watermark allows,
   so the detector evaluated everything it ever will for this data;
3. the alerts topic is quiet: its end offset did not move for ``quiet_s`` (the agent sends an evaluation's alerts
   right after advancing the position).

The alerts of the run are then the whole alerts topic, read from the beginning; reading the topic rather than
remembering what one process saw makes a second replay of the same run report the same alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from alerts.rules import Rule
from alerts.state import AlertState
from monitor.ground.contracts import Alert, SchemaError, decode
from monitor.ground.errors import BearwatchError
from monitor.ground.progress import SILENT, Bars
from monitor.stages.windows.layout import WindowKeys
from monitor.stages.windows.spans import floor_to, to_ms

log = logging.getLogger(__name__)
CHECK_CHUNK = 2000


class ReplayStalled(RuntimeError, BearwatchError):
    """No progress for too long; the message says how far the run got."""


async def topic_records(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Every record of a one-partition topic, from the beginning to the end offset at the time of the call."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or {0}
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise ReplayStalled(f"could not read {topic} to its end within {timeout_s:.0f} s")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or {0}
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def read_alerts(bootstrap: str, topic: str) -> list[Alert]:
    """The run's alerts, in topic order (= evaluation order); malformed records are logged and skipped."""
    alerts = []
    for record in await topic_records(bootstrap, topic):
        try:
            alerts.append(decode(Alert, record.value or b""))
        except SchemaError as exc:
            log.warning("skipping malformed alert at %s@%d: %s", topic, record.offset, exc)
    return alerts


async def dead_letter_ids(bootstrap: str, topic: str) -> set[str]:
    ids = set()
    for record in await topic_records(bootstrap, topic):
        try:
            ids.add(str(json.loads(record.value or b"{}").get("key", "")))
        except (ValueError, AttributeError):
            continue
    return ids


async def wait_counted(redis: aioredis.Redis, namespace: str, ids: Iterable[str], *, bootstrap: str,
                       deadletter_topic: str, alive: Callable[[], None], bars: Bars = SILENT,
                       stall_timeout_s: float = 300.0) -> int:
    """Wait until every id is counted in the windows (or dead-lettered); returns how many were dead-lettered."""
    keys = WindowKeys(namespace)
    remaining = list(dict.fromkeys(ids))
    step = bars.step("counted", len(remaining))
    last_progress = time.monotonic()
    dead: set[str] = set()
    dead_checked = time.monotonic()
    while remaining:
        alive()
        found: set[str] = set()
        for offset in range(0, len(remaining), CHECK_CHUNK):
            chunk = remaining[offset:offset + CHECK_CHUNK]
            async with redis.pipeline(transaction=False) as pipe:
                for story_id in chunk:
                    pipe.exists(keys.seen(story_id))
                flags = await pipe.execute()
            found.update(story_id for story_id, flag in zip(chunk, flags, strict=True) if flag)
        if not found and time.monotonic() - last_progress > 10 and time.monotonic() - dead_checked > 10:
            dead_checked = time.monotonic()
            dead = await dead_letter_ids(bootstrap, deadletter_topic)
            found = dead & set(remaining)
        if found:
            remaining = [story_id for story_id in remaining if story_id not in found]
            step.advance(len(found))
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > stall_timeout_s:
            raise ReplayStalled(f"{len(remaining)} stories still not counted after {stall_timeout_s:.0f} s "
                                "without progress; see the worker log")
        if remaining:
            await asyncio.sleep(0.5)
    return len(dead)


def final_boundary(first_event: datetime, last_event: datetime, lateness_s: int, bucket_s: int) -> int | None:
    """The last boundary (epoch s) the detector will evaluate for this data; None if it evaluates none."""
    end = floor_to((to_ms(last_event) - lateness_s * 1000) // 1000, bucket_s)
    return None if end <= floor_to(to_ms(first_event) // 1000, bucket_s) else end


async def wait_evaluated(redis: aioredis.Redis, namespace: str, rules: Sequence[Rule], boundary_s: int | None,
                         alive: Callable[[], None], timeout_s: float = 300.0) -> None:
    """Wait until every rule's detector position is at ``boundary_s``."""
    if boundary_s is None or not rules:
        return
    state = AlertState(redis, namespace)
    deadline = time.monotonic() + timeout_s
    while True:
        alive()
        positions = [await state.position(rule.name) for rule in rules]
        if all(p is not None and p >= boundary_s for p in positions):
            return
        if time.monotonic() > deadline:
            raise ReplayStalled(f"detector positions {positions} did not reach {boundary_s} in {timeout_s:.0f} s")
        await asyncio.sleep(0.3)


async def wait_quiet(bootstrap: str, topic: str, quiet_s: float = 2.0, timeout_s: float = 120.0) -> int:
    """Wait until ``topic``'s end offset has not moved for ``quiet_s``; returns that offset."""
    deadline = time.monotonic() + timeout_s
    last = await end_offset(bootstrap, topic)
    since = time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise ReplayStalled(f"{topic} never went quiet within {timeout_s:.0f} s")
        await asyncio.sleep(0.5)
        now = await end_offset(bootstrap, topic)
        if now != last:
            last, since = now, time.monotonic()
    return last
