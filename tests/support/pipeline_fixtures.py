"""Stream helpers of the worker tests: synthetic stories, producing them, reading a topic, a worker metric,
waiting for a condition with a ceiling (moved out of test_worker_pipeline, which other tests imported)."""

from __future__ import annotations

import random
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer

from monitor.ground.contracts import Story
from monitor.ground.kafka import make_producer
from monitor.ground.settings import Settings
from tests.support.ceilings import READY_CEILING_S

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
TICKERS = ["AAPL", "MSFT", "JPM", "XOM", "TSLA"]
SOURCES = ["reuters", "cnbc", "ft"]


def make_stories(count: int, seed: int = 7) -> list[Story]:
    """``count`` stories spread over two hours of event time, in shuffled order."""
    rng = random.Random(seed)
    stories = []
    for i in range(count):
        at = START + timedelta(seconds=rng.randrange(0, 7200))
        stories.append(Story(
            id=f"story-{seed}-{i}", source=rng.choice(SOURCES),
            title=f"Headline {i}: shares move on news {rng.random()}",
            published_at=at, fetched_at=at + timedelta(seconds=30), tickers=rng.sample(TICKERS, rng.randint(0, 2)),
            novelty=rng.choice([1.0, 0.5]),
        ))
    rng.shuffle(stories)
    return stories


async def produce(settings: Settings, payloads: Iterable[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    try:
        for key, value in payloads:
            await producer.send(settings.topics.raw, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = READY_CEILING_S) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_url, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


def metric_value(port: int, name: str) -> float:
    """Sum of a metric's samples on the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))



