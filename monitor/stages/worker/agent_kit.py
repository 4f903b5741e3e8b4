"""What every agent of the worker shares: its message counters, the dead-letter topic and the Redis retry.

The score and aggregate agents use it directly; the ``notify`` agent (``alerts.notify_agent``) gets it as a
:class:`monitor.ground.ports.AgentKit`, which this class implements.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
from faust.types import EventT

from monitor.stages.worker import metrics
from monitor.stages.worker.publish import Outgoing, publish_all
from monitor.stages.worker.records import record_of
from monitor.stages.worker.redis_calls import retry_redis
from monitor.stages.worker.scoring import DeadLetter

T = TypeVar("T")


class WorkerAgentKit:
    """Counters, dead letters and Redis retries for the agents of one worker app."""

    def __init__(self, dead_topic: faust.TopicT) -> None:
        self.dead_topic = dead_topic

    def received(self, agent: str, count: int = 1) -> None:
        metrics.MESSAGES_IN.labels(agent).inc(count)

    def handled(self, agent: str, count: int = 1) -> None:
        metrics.MESSAGES_OUT.labels(agent).inc(count)

    def dead_messages(self, dead: list[DeadLetter]) -> list[Outgoing]:
        """The dead-letter messages of ``dead`` (counted by reason), to publish with a batch's other outputs."""
        for letter in dead:
            metrics.DEAD_LETTERS.labels(letter.reason.split(":")[0][:40]).inc()
        return [Outgoing(self.dead_topic, letter.record.key, json.dumps(letter.to_json()).encode())
                for letter in dead]

    async def dead_letter(self, event: EventT, reason: str) -> None:
        await publish_all(self.dead_messages([DeadLetter(record_of(event), reason)]), "deadletter")

    async def retry_redis(self, call: Callable[[], Awaitable[T]]) -> T:
        return await retry_redis(call)
