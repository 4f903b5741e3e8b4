"""Topic taps: the harness's own readers of news.raw, news.scored and alerts, from the first offset, forever.

Why taps: the embedded broker forgets every message when it restarts, so "is the story in news.scored?" can
only be answered by having watched the topic while it existed. A tap reads with no consumer group (it never
disturbs the worker's offsets), records each message once per (broker incarnation, partition, offset) and keeps
the first decoded copy of each id; after a broker restart the harness calls :meth:`TopicTap.reset`, which bumps
the incarnation and reads the new topic from its beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.delivery.alertmanager import rfc3339
from monitor.ground.contracts import Alert, ScoredStory, Story, decode
from tests.support.ceilings import READY_CEILING_S

log = logging.getLogger(__name__)
Identify = Callable[[bytes], tuple[str, Any]]


def story_identity(value: bytes) -> tuple[str, Any]:
    story = decode(Story, value)
    return story.id, story


def scored_identity(value: bytes) -> tuple[str, Any]:
    story = decode(ScoredStory, value)
    return story.id, story


def notification_identity(alert: Alert) -> str:
    """What makes a notification unique, as a receiver can read it back from an Alertmanager body."""
    return "|".join((alert.fingerprint, alert.status, rfc3339(alert.starts_at),
                     alert.annotations.get("evaluated_at", "")))


def alert_identity(value: bytes) -> tuple[str, Any]:
    alert = decode(Alert, value)
    return notification_identity(alert), alert


@dataclass
class Seen:
    first_at: float
    epoch: int
    value: Any
    copies: set[tuple[int, int, int]] = field(default_factory=set)
    variants: dict[str, Any] = field(default_factory=dict)  # scored: topic|sentiment -> first copy scored so


class TopicTap:
    """Reads ``topic`` from the beginning and records every message by the id ``identify`` gives it."""

    def __init__(self, bootstrap: str, topic: str, identify: Identify) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.identify = identify
        self.epoch = 0
        self.seen: dict[str, Seen] = {}
        self.messages = 0
        self.undecodable = 0
        self.errors = 0
        self.partitions: set[int] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> TopicTap:
        self._task = asyncio.create_task(self._run(), name=f"tap:{self.topic}")
        return self

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def reset(self) -> None:
        """The broker restarted: read its new incarnation of the topic from the beginning."""
        self.epoch += 1

    def ids(self) -> set[str]:
        return set(self.seen)

    def seen_before(self, moment: float) -> set[str]:
        return {key for key, seen in self.seen.items() if seen.first_at < moment}

    async def _run(self) -> None:
        """Read cycles until stopped. Each cycle is a task of its own: aiokafka may cancel the task it runs in
        when the broker vanishes (a timeout inside the client), and that must end only the cycle, not the tap."""
        while not self._stopping:
            cycle = asyncio.create_task(self._cycle(self.epoch), name=f"tap-cycle:{self.topic}")
            try:
                await asyncio.wait({cycle})
            except asyncio.CancelledError:
                cycle.cancel()
                with contextlib.suppress(BaseException):
                    await cycle
                raise
            failure = "cancelled inside the client" if cycle.cancelled() else cycle.exception()
            if failure is not None:
                self.errors += 1
                log.debug("tap %s: %s; reconnecting", self.topic, failure)
                await asyncio.sleep(0.5)

    async def _cycle(self, epoch: int) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", request_timeout_ms=5000, metadata_max_age_ms=2000,
        )
        try:
            await asyncio.wait_for(consumer.start(), 10)
            partitions = await self._partitions(consumer, epoch)
            if partitions:
                await self._follow(consumer, epoch, partitions)
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(consumer.stop(), 5)

    async def _follow(self, consumer: AIOKafkaConsumer, epoch: int, partitions: set[int],
                      refresh_s: float = 3.0) -> None:
        """Read until the epoch changes; every ``refresh_s`` pick up partitions that appeared meanwhile."""
        self.partitions = set(partitions)
        consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        log.debug("tap %s: reading partitions %s from the beginning (epoch %d)", self.topic, sorted(partitions), epoch)
        checked = time.monotonic()
        while self.epoch == epoch:
            batch = await consumer.getmany(timeout_ms=300, max_records=2000)
            for records in batch.values():
                for record in records:
                    self._record(epoch, record.partition, record.offset, record.value or b"")
            if time.monotonic() - checked > refresh_s:
                checked = time.monotonic()
                await asyncio.wait_for(consumer.topics(), 5)
                now = set(consumer.partitions_for_topic(self.topic) or ())
                if now - self.partitions:
                    log.debug("tap %s: partitions %s appeared", self.topic, sorted(now - self.partitions))
                    return  # start over: re-assign all partitions and read from the beginning

    def describe(self) -> str:
        return (f"{self.topic}: {len(self.seen)} ids, {self.messages} messages, epoch {self.epoch}, "
                f"partitions {sorted(self.partitions)}, {self.errors} reconnects, {self.undecodable} undecodable")

    async def _partitions(self, consumer: AIOKafkaConsumer, epoch: int, wait_s: float = READY_CEILING_S) -> set[int]:
        deadline = time.monotonic() + wait_s
        while self.epoch == epoch and time.monotonic() < deadline:
            await asyncio.wait_for(consumer.topics(), 5)
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                return set(partitions)
            await asyncio.sleep(0.3)
        return set()

    def _record(self, epoch: int, partition: int, offset: int, value: bytes) -> None:
        self.messages += 1
        try:
            key, decoded = self.identify(value)
        except Exception:  # noqa: BLE001 - a dead-letter-worthy message is counted, not fatal to the tap
            self.undecodable += 1
            return
        seen = self.seen.get(key)
        if seen is None:
            seen = self.seen[key] = Seen(time.monotonic(), epoch, decoded)
        seen.copies.add((epoch, partition, offset))
        if isinstance(decoded, ScoredStory):
            # The same text scored in two different micro-batches can land on the other side of a near-tie.
            seen.variants.setdefault(f"{decoded.topic.label}|{decoded.sentiment.label}", decoded)
