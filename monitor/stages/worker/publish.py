"""Send a micro-batch's outputs and wait until the broker holds every one, retrying the whole set until it does.

Why: when a send failed (a broker restarting, a topic it has not re-created yet: aiokafka's ``UnknownError``)
the agent used to crash. Faust restarted it, but the events of the crashed batch were never handed to the new
agent, so their stories were not counted until the worker process restarted (resilience scenario 1b: a drain
that never finished). Retrying here keeps the batch's offsets uncommitted until its outputs are durable.
Re-sending the whole set is safe because everything downstream is idempotent: windows count a story id once,
the outbox queues a notification id once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError

from monitor.ground.retry import Backoff, retry
from monitor.stages.worker import metrics

log = logging.getLogger(__name__)

#: From 0.5 s, doubling, at most 10 s between sends of the same batch.
PUBLISH_BACKOFF = Backoff(base_s=0.5, cap_s=10.0)


@dataclass(frozen=True)
class Outgoing:
    """One message to produce: a Faust topic, its key, its (already encoded) value and, optionally, the Kafka
    timestamp to give it (Unix seconds; ``None``: now). A scored story keeps its raw record's timestamp, so the
    stages after scoring can still tell how long ago the story entered the pipeline."""

    topic: Any
    key: bytes | None
    value: bytes
    timestamp: float | None = None


def broker_trouble(exc: BaseException) -> bool:
    """Any Kafka error or OSError is worth sending again here, retriable or not: a broker that restarted answers
    ``UnknownError`` (not retriable by aiokafka's flag) until it has re-created the topic. The outputs stay
    unacknowledged, so the batch's offsets are not committed while this waits."""
    return isinstance(exc, KafkaError | OSError)


async def _send_all(messages: Sequence[Outgoing]) -> None:
    futures = [await m.topic.send(key=m.key, value=m.value, timestamp=m.timestamp) for m in messages]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failed is not None:
        raise failed


async def publish_all(messages: Sequence[Outgoing], what: str, *, backoff: Backoff = PUBLISH_BACKOFF) -> int:
    """Produce ``messages`` and wait for every acknowledgement; on a broker error wait and send them all again.
    Returns the number of retries it took (0 when the first try went through)."""
    retries = 0

    def count(exc: BaseException, failures: int, delay: float) -> None:
        nonlocal retries
        retries = failures
        metrics.PUBLISH_RETRIES.labels(what).inc()
        log.warning("could not publish %d %s message(s) (%s: %s); sending them again in %.1f s",
                    len(messages), what, type(exc).__name__, exc, delay)

    await retry(lambda: _send_all(messages), backoff, transient=broker_trouble, on_retry=count)
    return retries
