"""The stream worker end to end on real parts: Tansu, Valkey, a real `bearwatch worker` process, a tiny model.

Books that must balance: every story produced comes out scored once, the Redis windows hold exactly the counts
computed from the scored stories, re-delivery changes nothing, and a worker killed mid-stream loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.ground.contracts import ScoredStory, decode, encode
from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings
from monitor.stages.windows import WindowStore
from tests.support.ceilings import READY_CEILING_S, wait_for
from tests.support.pipeline_fixtures import (
    START,
    make_stories,
    metric_value,
    produce,
    read_topic,
)
from tests.support.worker_fixtures import running_worker, tiny_model_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


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


@pytest.fixture
async def worker_settings(make_settings: Callable[..., Settings], tiny_model_dir: Path) -> Settings:  # noqa: F811
    settings = make_settings(model_path=tiny_model_dir, model_batch=64, batch_max_wait_s=0.2, topic_partitions=4)
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

        await wait_for(all_counted, READY_CEILING_S, "1,000 stories in the market window")
        assert await stored_counts(store, keys) == want

        # At-least-once redelivery: the same 1,000 stories again change no count.
        await produce(settings, payloads)
        await read_topic(settings, settings.topics.scored, 2000)

        async def all_seen_as_duplicates() -> bool:
            return metric_value(port, "bearwatch_windows_duplicate_stories_total") >= 1000

        await wait_for(all_seen_as_duplicates, READY_CEILING_S, "the worker to see the 1,000 redelivered stories")
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

        await wait_for(all_counted, READY_CEILING_S, "the surviving worker to count all 1,000 stories")
        scored = [decode(ScoredStory, r.value) for r in await read_topic(settings, settings.topics.scored, 1000)]
        by_id = {story.id: story for story in scored}
        assert set(by_id) == {story.id for story in stories}
        want = expected_counts(by_id.values())
        assert await stored_counts(store, {(scope, key) for scope, key, _ in want}) == want
        assert first.poll() is None, "the surviving worker is still running"
