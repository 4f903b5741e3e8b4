"""The worker after a broker whose log went backwards: a memory-storage Tansu SIGKILLed and started again.

The new broker incarnation has the same topics (recreated by the producers) but empty, numbered from offset 0
again. A worker that is behind when the broker dies (its stream buffers full of the old incarnation's messages:
the shipped model scores a few hundred stories a second on CPU) used to drop the new incarnation's first messages:
Faust's fetch loop wrote the old read offsets back after the rejoin and skipped every new message below them, and
the old batch's acks were committed to the new broker past the end of its logs (measured before the fix: 0 of 400
stories written after the restart scored). ``monitor/stages/worker/log_reset.py`` re-reads such partitions from their
earliest offset. Real parts: a Tansu of the test's own (so it can kill it), the session's Valkey, a real
``bearwatch worker`` process with the shipped model (a tiny model scores the backlog before the rejoin completes,
so the race never happens with it).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.ground.contracts import ScoredStory, Story, decode, encode
from monitor.ground.kafka import ensure_topics, make_producer
from monitor.ground.settings import Settings
from monitor.ground.stack import EmbeddedStack
from tests.support.worker_fixtures import running_worker

pytestmark = pytest.mark.slow

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "default"


START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def make_stories(count: int, seed: int) -> list[Story]:
    """``count`` distinct stories (ids ``story-<seed>-<i>``) over an hour of event time."""
    return [Story(id=f"story-{seed}-{i}", source="reuters", title=f"Headline {i}: $AAPL shares move on news {seed}",
                  published_at=START + timedelta(seconds=i % 3600), fetched_at=START + timedelta(seconds=i % 3600 + 30),
                  tickers=["AAPL"]) for i in range(count)]


async def produce(settings: Settings, stories: list[Story]) -> None:
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    try:
        for story in stories:
            await producer.send(settings.topics.raw, encode(story), key=story.id.encode())
        await producer.flush()
    finally:
        await producer.stop()


def metric_value(port: int, name: str) -> float:
    """Sum of a metric's samples on the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedStack]:
    """A Tansu (memory storage, as ``bearwatch up`` runs it) that this test alone kills and restarts."""
    with EmbeddedStack(tmp_path / "broker", redis=False) as broker:
        yield broker


async def scored_ids(settings: Settings, expected: set[str], timeout_s: float) -> set[str]:
    """Ids in ``news.scored`` of the broker's current incarnation, read from offset 0 until ``expected`` are all
    there or ``timeout_s`` (a ceiling on the wait) has passed."""
    consumer = AIOKafkaConsumer(settings.topics.scored, bootstrap_servers=settings.kafka_url,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while not expected <= seen and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen.update(decode(ScoredStory, record.value).id for record in records)
    finally:
        await consumer.stop()
    return seen


async def count_scored(settings: Settings) -> int:
    """How many records ``news.scored`` holds now (one pass from offset 0)."""
    return len(await scored_ids(settings, {"(none)"}, 1.0))


async def test_worker_reads_a_restarted_memory_broker_from_offset_0(
    own_broker: EmbeddedStack, make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = make_settings(kafka_url=own_broker.kafka_url, model_path=MODEL_DIR, model_batch=32,
                             batch_max_wait_s=0.2, topic_partitions=4)
    await ensure_topics(settings.kafka_url or "", settings)
    backlog = make_stories(5000, seed=31)
    after = make_stories(400, seed=32)
    log = tmp_path / "worker.log"
    with running_worker(settings, log, ready_timeout_s=300) as (proc, port):
        await produce(settings, backlog)
        # Wait until the worker is scoring (its buffers are then full): it is far behind a 5,000-story backlog.
        deadline = time.monotonic() + 300
        while await count_scored(settings) < 200:
            assert time.monotonic() < deadline, "the worker did not start scoring within 300 s"

        # SIGKILL: the memory broker forgets every topic, message and offset; same port, as a restarted container.
        own_broker.servers["kafka"].proc.kill()  # type: ignore[union-attr]
        own_broker.restart("kafka")
        await ensure_topics(settings.kafka_url or "", settings)  # what the consumers' producer does on restart
        await produce(settings, after)

        wanted = {story.id for story in after}
        # A generous ceiling on the wait (the rejoin takes 6-10 s); the old code never scored them.
        missing = wanted - await scored_ids(settings, wanted, 240)
        assert not missing, (f"{len(missing)} of 400 stories written after the broker restart were never scored; "
                             f"worker log:\n{log.read_text()[-3000:]}")
        assert proc.poll() is None, "the worker kept running (no supervisor restart needed)"
        assert metric_value(port, "bearwatch_worker_log_resets_total") >= 1, "the re-reads were counted"
        assert "the broker's log went backwards" in log.read_text(), "the re-read was logged"
