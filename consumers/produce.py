"""Acknowledged, back-pressured delivery of stories to ``bearwatch.news.raw`` (key = story id).

Three promises, in this order of importance:

1. Nothing polled is lost. A story counts as delivered only when the broker acknowledged it; only then is its id
   marked seen in Redis (:meth:`Deduplicator.mark_seen`) and the poller's future resolved, so the poller saves the
   feed's ETag only then too. Unacknowledged stories are re-sent, through a fresh producer and after recreating the
   topics (the embedded broker forgets them on restart), until the broker takes them: at-least-once delivery;
   consumers downstream are idempotent by story id. The embedded Tansu broker also *acknowledges* writes to a topic
   it lost in a restart (Apache Kafka refuses them), so after each batch the topic is looked up without
   auto-creation; when it is gone, the batch is re-sent after the topics are recreated.
2. Memory is bounded. Stories wait in a bounded queue; when the broker is slow or down, :meth:`submit` blocks, which
   blocks the feed's poll loop: a slow broker slows polling instead of growing a backlog.
3. Throughput. One sender drains the queue in batches; aiokafka batches on the wire by ``linger_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest
from redis.exceptions import RedisError

from consumers.backoff import OUTAGE_BACKOFF
from consumers.dedup import Deduplicator
from consumers.metrics import PRODUCE_QUEUE, PRODUCE_RETRIES, STORIES
from monitor.ground.contracts import Story, encode
from monitor.ground.errors import BearwatchError
from monitor.ground.kafka import KafkaUnavailable, ensure_topics, make_producer
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)


class ProducerStopped(RuntimeError, BearwatchError):
    """The producer shut down before the broker acknowledged the story; it will be polled again."""


@dataclass
class _Pending:
    story: Story
    payload: bytes
    done: asyncio.Future[None]


class StoryProducer:
    def __init__(
        self,
        settings: Settings,
        dedup: Deduplicator,
        *,
        queue_size: int = 2000,
        delivery_timeout_s: float = 30.0,
        batch_max: int = 500,
        linger_ms: int = 20,
    ) -> None:
        if not settings.kafka_url:
            raise KafkaUnavailable("no Kafka URL: set BEARWATCH_KAFKA_URL or run `bearwatch up`")
        self.settings = settings
        self.bootstrap = settings.kafka_url
        self.topic = settings.topics.raw
        self.dedup = dedup
        self.delivery_timeout_s = delivery_timeout_s
        self.batch_max = batch_max
        self.linger_ms = linger_ms
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._producer: AIOKafkaProducer | None = None
        self._sender: asyncio.Task[None] | None = None
        self._in_delivery: list[_Pending] = []
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.acknowledged = 0

    async def start(self) -> None:
        """Start the sender; the broker connection is made (and retried) by the sender itself."""
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_forever(), name="story-producer")

    async def submit(self, stories: list[Story]) -> list[asyncio.Future[None]]:
        """Queue stories (waiting while the queue is full); each future resolves once the broker acknowledged it."""
        loop = asyncio.get_running_loop()
        futures = []
        for story in stories:
            pending = _Pending(story, encode(story), loop.create_future())
            await self._queue.put(pending)
            self._outstanding += 1
            self._idle.clear()
            PRODUCE_QUEUE.set(self._outstanding)
            futures.append(pending.done)
        return futures

    async def deliver(self, stories: list[Story]) -> None:
        """Submit and wait until every story is acknowledged."""
        futures = await self.submit(stories)
        if futures:
            await asyncio.gather(*futures)

    @property
    def outstanding(self) -> int:
        return self._outstanding

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Deliver what is queued (for at most ``drain_timeout_s``), then stop; the rest is polled again later."""
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain_timeout_s)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender
            self._sender = None
        leftover = list(self._in_delivery)
        while not self._queue.empty():
            leftover.append(self._queue.get_nowait())
        for pending in leftover:
            if not pending.done.done():
                pending.done.set_exception(ProducerStopped("stopped before the broker acknowledged the story"))
                pending.done.exception()  # mark retrieved: the poller may already be gone
        self.dedup.release([pending.story.id for pending in leftover])
        self._outstanding = 0
        self._idle.set()
        PRODUCE_QUEUE.set(0)
        await self._close_producer()

    async def _send_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_delivery = batch
            await self._deliver_batch(batch)
            self._in_delivery = []

    async def _deliver_batch(self, batch: list[_Pending]) -> None:
        remaining = batch
        attempt = 0
        while remaining:
            producer = await self._connected_producer()
            results = await self._send(producer, remaining)
            if any(error is None for error in results) and not await self._topic_intact(producer):
                vanished = KafkaError(f"topic {self.topic} vanished from the broker after the write (restart?)")
                results = [vanished] * len(remaining)
            acked = [p for p, error in zip(remaining, results, strict=True) if error is None]
            failed = [p for p, error in zip(remaining, results, strict=True) if error is not None]
            if acked:
                await self._acknowledge(acked)
            if failed:
                attempt += 1
                PRODUCE_RETRIES.inc()
                first_error = next(error for error in results if error is not None)
                log.warning(
                    "broker did not acknowledge %d stories (attempt %d: %s); keeping them and retrying",
                    len(failed), attempt, first_error,
                )
                await self._close_producer()
                await asyncio.sleep(OUTAGE_BACKOFF.delay(attempt))
            remaining = failed

    async def _send(self, producer: AIOKafkaProducer, batch: list[_Pending]) -> list[BaseException | None]:
        """Send a batch and wait up to the delivery timeout; returns one error (or None) per story."""
        futures: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout(self.delivery_timeout_s):
                for pending in batch:
                    futures.append(await producer.send(self.topic, pending.payload, key=pending.story.id.encode()))
        except (KafkaError, OSError, TimeoutError) as exc:
            for future in futures:
                future.add_done_callback(_ignore_result)
            return [exc] * len(batch)
        done, _ = await asyncio.wait(futures, timeout=self.delivery_timeout_s)
        errors: list[BaseException | None] = []
        for future in futures:
            if future in done:
                errors.append(future.exception())
            else:
                future.add_done_callback(_ignore_result)
                errors.append(TimeoutError(f"no acknowledgement within {self.delivery_timeout_s:g} s"))
        return errors

    async def _topic_intact(self, producer: AIOKafkaProducer) -> bool:
        """Is the topic still on the broker? Asked without auto-creation, which would hide a lost topic."""
        try:
            client = producer.client
            request = MetadataRequest([self.topic], allow_auto_topic_creation=False)
            async with asyncio.timeout(self.delivery_timeout_s):
                response = await client.send(client.get_random_node(), request)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.debug("cannot confirm topic %s after a write: %s", self.topic, exc)
            return False
        topics = response.to_object().get("topics", [])
        return any(
            entry.get("topic") == self.topic and entry.get("error_code") == 0 and entry.get("partitions")
            for entry in topics
        )

    async def _acknowledge(self, acked: list[_Pending]) -> None:
        attempt = 0
        while True:
            try:
                await self.dedup.mark_seen([pending.story.id for pending in acked])
                break
            except (RedisError, OSError) as exc:
                attempt += 1
                log.warning("cannot mark %d delivered stories as seen in Redis (%s); retrying", len(acked), exc)
                await asyncio.sleep(OUTAGE_BACKOFF.delay(attempt))
        for pending in acked:
            STORIES.labels(pending.story.feed or pending.story.source).inc()
            if not pending.done.done():
                pending.done.set_result(None)
        self.acknowledged += len(acked)
        self._outstanding -= len(acked)
        if not self._outstanding:
            self._idle.set()
        PRODUCE_QUEUE.set(self._outstanding)

    async def _connected_producer(self) -> AIOKafkaProducer:
        attempt = 0
        while self._producer is None:
            producer = make_producer(self.bootstrap, linger_ms=self.linger_ms)
            try:
                async with asyncio.timeout(self.delivery_timeout_s):
                    await producer.start()
                with contextlib.suppress(KafkaUnavailable, KafkaError, OSError, TimeoutError):
                    await ensure_topics(self.bootstrap, self.settings, timeout_s=min(10.0, self.delivery_timeout_s))
                self._producer = producer
            except (KafkaError, OSError, TimeoutError) as exc:
                attempt += 1
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await producer.stop()
                log.warning("Kafka at %s unreachable (%s); retrying (attempt %d)", self.bootstrap, exc, attempt)
                await asyncio.sleep(OUTAGE_BACKOFF.delay(attempt))
        return self._producer

    async def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await producer.stop()


def _ignore_result(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
