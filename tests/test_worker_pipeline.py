"""The stream worker end to end on real parts: Tansu, Valkey, a real `bearwatch worker` process, a tiny model.

Books that must balance: every story produced comes out scored once, the Redis windows hold exactly the counts
computed from the scored stories, re-delivery changes nothing, and a worker killed mid-stream loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from monitor.kafka import ensure_topics, make_producer
from monitor.schemas import ScoredStory, Story, decode, encode
from monitor.settings import Settings
from monitor.windows import WindowStore
from tests.worker_fixtures import running_worker, tiny_model_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

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


async def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = 90.0) -> list:
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


def expected_counts(scored: Iterable[ScoredStory]) -> Counter:
    counts: Counter = Counter()
    for story in scored:
        keys = [("market", "all"), ("topic", story.topic.label), ("source", story.source)]
        keys += [("ticker", ticker) for ticker in story.tickers]
        for scope, key in keys:
            counts[(scope, key, "count")] += 1
            counts[(scope, key, story.sentiment.label)] += 1
    return counts


async def stored_counts(store: WindowStore, keys: Iterable[tuple[str, str]]) -> Counter:
    at = START + timedelta(hours=3)
    counts: Counter = Counter()
    for scope, key in keys:
        stats = await store.window(scope, key, "24h", at=at, samples=False)
        for name, value in (("count", stats.count), ("negative", stats.negative), ("neutral", stats.neutral),
                            ("positive", stats.positive)):
            if value:
                counts[(scope, key, name)] = value
    return counts


def metric_value(port: int, name: str) -> float:
    """Sum of a metric's samples on the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


async def wait_for(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
async def worker_settings(make_settings: Callable[..., Settings], tiny_model_dir: Path) -> Settings:  # noqa: F811
    settings = make_settings(model_path=tiny_model_dir, batch_size=64, batch_max_wait_s=0.2, topic_partitions=4)
    await ensure_topics(settings.kafka_url or "", settings)
    return settings


async def test_every_story_is_scored_and_counted_once_even_when_redelivered(
    worker_settings: Settings, redis_client: aioredis.Redis, tmp_path: Path,
) -> None:
    settings = worker_settings
    stories = make_stories(1000)
    poison = [(b"bad-json", b"{not json"), (b"bad-schema", b'{"v":1,"id":"x"}'),
              (b"huge", encode(stories[0].model_copy(update={"id": "huge", "title": "x" * 1_000_000})))]
    store = WindowStore(redis_client, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    with running_worker(settings, tmp_path / "worker.log") as (_, port):
        payloads = [(story.id.encode(), encode(story)) for story in stories]
        await produce(settings, payloads[:500] + poison + payloads[500:])
        scored_records = await read_topic(settings, settings.topics.scored, 1000)
        scored = [decode(ScoredStory, record.value) for record in scored_records]
        assert sorted(story.id for story in scored) == sorted(story.id for story in stories)

        dead = [json.loads(record.value) for record in await read_topic(settings, settings.topics.deadletter, 3)]
        assert sorted(letter["key"] for letter in dead) == ["bad-json", "bad-schema", "huge"]
        assert all(letter["reason"] for letter in dead)

        want = expected_counts(scored)
        keys = {(scope, key) for scope, key, _ in want}

        async def all_counted() -> bool:
            return (await store.window("market", "all", "24h", at=START + timedelta(hours=3), samples=False)).count \
                >= 1000

        await wait_for(all_counted, 60, "1,000 stories in the market window")
        assert await stored_counts(store, keys) == want

        # At-least-once redelivery: the same 1,000 stories again change no count.
        await produce(settings, payloads)
        await read_topic(settings, settings.topics.scored, 2000)

        async def all_seen_as_duplicates() -> bool:
            return metric_value(port, "bearwatch_windows_duplicate_stories_total") >= 1000

        await wait_for(all_seen_as_duplicates, 60, "the worker to see the 1,000 redelivered stories")
        assert await stored_counts(store, keys) == want
        seen_key = f"{settings.redis_namespace}:w:*"
        assert await redis_client.keys(seen_key), "window keys live under the test's namespace"


async def test_two_workers_then_one_killed_count_every_story_exactly_once(
    worker_settings: Settings, redis_client: aioredis.Redis, tmp_path: Path,
) -> None:
    settings = worker_settings
    stories = make_stories(1000, seed=11)
    store = WindowStore(redis_client, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    payloads = [(story.id.encode(), encode(story)) for story in stories]
    with running_worker(settings, tmp_path / "worker-a.log") as (first, _):
        with running_worker(settings, tmp_path / "worker-b.log") as (second, _):
            await produce(settings, payloads[:400])
            await asyncio.sleep(2)
            second.send_signal(signal.SIGKILL)
            second.wait(timeout=10)
            await produce(settings, payloads[400:])

        async def all_counted() -> bool:
            stats = await store.window("market", "all", "24h", at=START + timedelta(hours=3), samples=False)
            return stats.count >= 1000

        await wait_for(all_counted, 120, "the surviving worker to count all 1,000 stories")
        scored = [decode(ScoredStory, r.value) for r in await read_topic(settings, settings.topics.scored, 1000)]
        by_id = {story.id: story for story in scored}
        assert set(by_id) == {story.id for story in stories}
        want = expected_counts(by_id.values())
        assert await stored_counts(store, {(scope, key) for scope, key, _ in want}) == want
        assert first.poll() is None, "the surviving worker is still running"
