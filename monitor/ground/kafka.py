"""Thin Kafka helpers shared by every stage: topic creation, a reachability check, a producer factory.

Both the embedded Tansu broker and Apache Kafka must work, so nothing here asks for idempotent or
transactional producers (Tansu refuses InitProducerId); delivery is at-least-once and every consumer's
effect is idempotent by message id.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.ground.errors import BearwatchError
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError, BearwatchError):
    """The configured broker could not be reached; the message names it and the fix."""


async def ensure_topics(bootstrap: str, settings: Settings, timeout_s: float = 20.0) -> list[str]:
    """Create the pipeline topics with the configured partitions; existing ones are left as they are.

    Returns the names that were created (empty on a second call).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} is unreachable ({exc!r}): {_fix(settings)}") from exc
    try:
        existing = set(await admin.list_topics())
        wanted = [name for name in settings.topics.all() if name not in existing]
        created: list[str] = []
        for name in wanted:
            topic = NewTopic(name, settings.topic_partitions, settings.topic_replication)
            try:
                await admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        return created
    finally:
        await admin.close()


async def check_kafka(bootstrap: str, timeout_s: float = 5.0) -> list[str]:
    """List topics as a liveness probe; raise KafkaUnavailable with the reason."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        return sorted(await asyncio.wait_for(admin.list_topics(), timeout_s))
    except (KafkaError, OSError, TimeoutError) as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} is unreachable ({type(exc).__name__})") from exc
    finally:
        await admin.close()


def make_producer(bootstrap: str, linger_ms: int = 20, max_batch_bytes: int = 1_048_576) -> AIOKafkaProducer:
    """An at-least-once producer: acks from all in-sync replicas, batching by ``linger_ms``, no idempotence."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=max_batch_bytes,
        enable_idempotence=False,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
    )


def _fix(settings: Settings) -> str:
    if settings.kafka_url:
        return "start that broker or unset BEARWATCH_KAFKA_URL to use the embedded one"
    return "the embedded broker did not start; see var/logs/tansu.log"
