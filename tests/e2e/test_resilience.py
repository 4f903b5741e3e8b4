"""End-to-end resilience, short versions of scenarios 1-5 (``bench/resilience``; full sizes: ``make resilience``).

Each test starts the whole system as separate processes (embedded broker and Valkey, ``bearwatch ingest``,
``bearwatch worker`` with the shipped model), publishers and a webhook receiver, injects one fault, and checks the
books: every story served is in news.scored and counted once in Redis, every alert decided is delivered once, in
order, and the outbox drains. The receiver outage is 20 s here (minutes in the bench run).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.resilience import scenarios
from tests.support.resilience.scenarios import CI

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _quiet_kafka_client() -> None:
    # The broker outage of scenario 1 makes aiokafka log an error per reconnect attempt; the books say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


async def test_broker_restart_mid_stream_loses_no_story_and_no_alert(tmp_path: Path) -> None:
    result = await scenarios.broker_restart(tmp_path, CI["broker_restart"])
    print(result.line())
    result.check()
    assert result.books.counted == result.books.served > 50


async def test_redis_restart_with_the_default_append_only_file_loses_nothing(tmp_path: Path) -> None:
    result = await scenarios.redis_restart(tmp_path, CI["redis_restart"])
    print(result.line())
    result.check()
    assert result.books.counted == result.books.served > 50 and not result.books.undelivered
    assert any(note.startswith("kept by Valkey's append-only file") for note in result.notes)


async def test_worker_killed_and_restarted_double_counts_nothing_and_loses_no_alert(tmp_path: Path) -> None:
    result = await scenarios.worker_crash(tmp_path, CI["worker_crash"])
    print(result.line())
    result.check()
    assert result.books.decided == result.books.delivered > 0


async def test_receiver_down_then_up_gets_every_notification_once_in_order(tmp_path: Path) -> None:
    result = await scenarios.receiver_down(tmp_path, CI["receiver_down"])
    print(result.line())
    result.check()
    assert result.books.duplicates == 0 and not result.books.out_of_order


async def test_slow_and_hostile_feeds_do_not_delay_the_others_or_grow_memory(tmp_path: Path) -> None:
    result = await scenarios.hostile_feeds(tmp_path, CI["hostile_feeds"])
    print(result.line())
    result.check()
