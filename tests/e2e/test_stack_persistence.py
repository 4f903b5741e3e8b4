"""The embedded Valkey keeps its data across a restart when persisting (the ``bearwatch up`` default), and two
processes cannot share one data folder; ``bearwatch doctor`` states what the embedded broker cannot keep.

Each test starts its own Valkey (Kafka off) in its own folder: the session stack is memory-only and shared.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from alerts.delivery.outbox import Outbox
from consumers.dedup import Deduplicator
from consumers.validators import Validators, ValidatorStore
from monitor.ground.settings import load_settings
from monitor.ground.stack import EmbeddedStack, StackError
from monitor.shell.doctor import _kafka, _redis
from monitor.stages.windows import WindowStore
from tests.support.windows_fixtures import T0, scored

NS = "persist"


async def _write_state(url: str) -> None:
    """Windows, a seen id, a feed's validators and one queued notification: what a restart must keep."""
    client = aioredis.from_url(url)
    try:
        store = WindowStore(client, NS, bucket_seconds=60, allowed_lateness_s=300)
        await store.apply([scored(f"s{i}", timedelta(minutes=i % 5)) for i in range(12)])
        await Deduplicator(client, NS).mark_seen(["s0", "s1"])
        await ValidatorStore(client, NS).save("http://feed.example/rss", Validators('"v1"', None))
        assert await Outbox(client, NS).put('{"fake": "alert"}', "nid-1", "group", "fp", ["hook"])
    finally:
        await client.aclose()


async def _read_state(url: str) -> tuple[int, set[str], Validators, int]:
    client = aioredis.from_url(url)
    try:
        store = WindowStore(client, NS, bucket_seconds=60, allowed_lateness_s=300)
        window = await store.window("ticker", "AAPL", timedelta(hours=1), at=T0 + timedelta(minutes=30),
                                    samples=False)
        seen = await Deduplicator(client, NS).seen(["s0", "s1", "s2"])
        validators = await ValidatorStore(client, NS).load("http://feed.example/rss")
        queued = int(await client.xlen(Outbox(client, NS).stream("hook")))
        return window.count, seen, validators, queued
    finally:
        await client.aclose()


async def test_a_persisted_valkey_restarted_in_place_keeps_windows_seen_ids_validators_and_outbox(
    tmp_path: Path,
) -> None:
    stack = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start)
    try:
        await _write_state(stack.redis_url)
        before = await _read_state(stack.redis_url)
        assert before == (12, {"s0", "s1"}, Validators('"v1"', None), 1)
        await asyncio.to_thread(stack.restart, "redis")
        assert await _read_state(stack.redis_url) == before
    finally:
        await asyncio.to_thread(stack.stop)
    assert (tmp_path / "var" / "valkey" / "appendonlydir").is_dir()


async def test_a_new_stack_in_the_same_folder_reloads_the_data_like_a_second_bearwatch_up(tmp_path: Path) -> None:
    first = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start)
    try:
        await _write_state(first.redis_url)
    finally:
        await asyncio.to_thread(first.stop)
    second = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start)
    try:
        assert await _read_state(second.redis_url) == (12, {"s0", "s1"}, Validators('"v1"', None), 1)
    finally:
        await asyncio.to_thread(second.stop)


async def test_memory_only_valkey_forgets_everything_on_restart(tmp_path: Path) -> None:
    stack = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=False).start)
    try:
        await _write_state(stack.redis_url)
        await asyncio.to_thread(stack.restart, "redis")
        assert await _read_state(stack.redis_url) == (0, set(), Validators(None, None), 0)
    finally:
        await asyncio.to_thread(stack.stop)
    assert not (tmp_path / "var" / "valkey" / "appendonlydir").exists()


def test_two_persisting_stacks_cannot_share_a_data_folder(tmp_path: Path) -> None:
    first = EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start()
    try:
        with pytest.raises(StackError, match=r"valkey is in use by another Bearwatch process .*BEARWATCH_VAR_DIR"):
            EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start()
        assert first.servers["redis"].running()
    finally:
        first.stop()
    # Once the first one stopped, the folder is free again.
    EmbeddedStack(tmp_path / "var", kafka=False, persist_redis=True).start().stop()


async def test_doctor_states_what_the_embedded_broker_loses_and_where_redis_keeps_its_data(tmp_path: Path) -> None:
    settings = load_settings(None, kafka_url=None, redis_url=None, var_dir=tmp_path / "var")
    kafka = await _kafka(settings)
    assert kafka.ok and "acknowledged but the worker had not read yet" in kafka.detail
    assert "BEARWATCH_KAFKA_URL" in kafka.detail and "docker compose" in kafka.detail
    redis_finding = await _redis(settings)
    assert "appendonlydir" in redis_finding.detail and "survive a restart" in redis_finding.detail
    off = load_settings(None, kafka_url=None, redis_url=None, var_dir=tmp_path / "var", embedded_redis_persist=False)
    assert "memory only" in (await _redis(off)).detail
