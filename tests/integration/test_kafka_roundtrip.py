"""A Story produced to the real embedded broker comes back equal; topic creation is idempotent."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer

from monitor.ground.contracts import SchemaError, Story, decode, encode
from monitor.ground.kafka import ensure_topics, make_producer
from monitor.ground.settings import Settings
from tests.support.ceilings import READY_CEILING_S as READ_CEILING_S


async def test_topics_are_created_once(settings: Settings) -> None:
    assert await ensure_topics(settings.kafka_url or "", settings) == []


async def test_story_round_trips_through_kafka(settings: Settings, unique: str) -> None:
    story = Story(
        id="s1", source="test", title="Bank shares slump on funding fears", url="https://example.com/a",
        published_at=datetime(2024, 5, 1, 12, tzinfo=UTC), fetched_at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
        tickers=["JPM"],
    )
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.raw, encode(story), key=story.id.encode())
        await producer.send_and_wait(settings.topics.raw, b'{"v":1,"id":"broken"}', key=b"broken")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        settings.topics.raw, bootstrap_servers=settings.kafka_url, group_id=f"g{unique}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received: list[bytes] = []
        deadline = time.monotonic() + READ_CEILING_S  # a ceiling for a busy machine, not a speed check
        while len(received) < 2:
            assert time.monotonic() < deadline, (
                f"awaited both messages back from the broker for {READ_CEILING_S:g} s; got {len(received)}")
            batch = await consumer.getmany(timeout_ms=1000)
            received.extend(record.value for records in batch.values() for record in records)
    finally:
        await consumer.stop()
    by_key = [decode_or_error(value) for value in received]
    assert story in by_key
    assert "source" in by_key


def decode_or_error(value: bytes) -> Story | str:
    try:
        return decode(Story, value)
    except SchemaError as exc:
        return exc.field
