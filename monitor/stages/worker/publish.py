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

from monitor.stages.worker import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to produce: a Faust topic, its key, its (already encoded) value and, optionally, the Kafka
    timestamp to give it (Unix seconds; ``None``: now). A scored story keeps its raw record's timestamp, so the
    stages after scoring can still tell how long ago the story entered the pipeline."""

    topic: Any
    key: bytes | None
    value: bytes
    timestamp: float | None = None


async def publish_all(messages: Sequence[Outgoing], what: str, *, backoff_s: float = 0.5,
                      max_backoff_s: float = 10.0) -> int:
    """Produce ``messages`` and wait for every acknowledgement; on a broker error wait and send them all again.
    Returns the number of retries it took (0 when the first try went through)."""
    retries = 0
    while True:
        try:
            futures = [await m.topic.send(key=m.key, value=m.value, timestamp=m.timestamp) for m in messages]
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is None:
                return retries
            raise failed
        except asyncio.CancelledError:
            raise
        except (KafkaError, OSError) as exc:
            retries += 1
            metrics.PUBLISH_RETRIES.labels(what).inc()
            delay = min(max_backoff_s, backoff_s * 2 ** min(retries - 1, 10))
            log.warning("could not publish %d %s message(s) (%s: %s); sending them again in %.1f s",
                        len(messages), what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
