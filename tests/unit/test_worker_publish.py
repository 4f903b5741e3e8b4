"""``publish_all`` re-sends a micro-batch's outputs until the broker acknowledges all of them.

The topic here is a stand-in that fails on demand: a real broker's transient ``UnknownError`` after a restart
cannot be produced on cue. The real thing is exercised by ``bench/resilience`` scenario 1b (broker crashes while
the worker is sending).
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import UnknownError

from monitor.ground.retry import Backoff
from monitor.stages.worker import metrics
from monitor.stages.worker.publish import Outgoing, publish_all

QUICK = Backoff(base_s=0.01, cap_s=0.01)


class FlakyTopic:
    """Acknowledges sends, except that the first ``failures`` sends fail like a broker that is not ready."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None, value: bytes, timestamp: float | None = None) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures > 0:
            self.failures -= 1
            future.set_exception(UnknownError())
        else:
            self.sent.append((key, value))
            future.set_result(None)
        return future


async def test_a_failed_send_is_retried_until_every_message_is_acknowledged() -> None:
    topic = FlakyTopic(failures=3)
    counter = metrics.PUBLISH_RETRIES.labels("test")
    before = counter._value.get()
    messages = [Outgoing(topic, f"k{i}".encode(), f"v{i}".encode()) for i in range(4)]
    retries = await publish_all(messages, "test", backoff=QUICK)
    assert retries >= 1 and counter._value.get() == before + retries
    delivered = {value for _, value in topic.sent}
    assert delivered == {f"v{i}".encode() for i in range(4)}  # all of them, some possibly twice


async def test_anything_but_a_broker_error_is_not_swallowed() -> None:
    class Broken:
        async def send(self, key: bytes | None, value: bytes) -> None:
            raise TypeError("a bug, not an outage")

    with pytest.raises(TypeError):
        await publish_all([Outgoing(Broken(), None, b"x")], "test", backoff=QUICK)
