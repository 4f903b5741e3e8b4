"""Kafka and Redis for a replay or backtest: the configured ones, or an embedded Tansu/Valkey for this run only.

``bearwatch replay`` needs both, ``bearwatch backtest`` only Redis. Whatever is not configured
(``BEARWATCH_KAFKA_URL`` / ``BEARWATCH_REDIS_URL``) is started with the same launcher ``bearwatch up`` uses, with
its logs under the run's output folder, and stopped when the run ends (the run's outputs are files, so nothing
is lost with it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from monitor.ground.settings import Settings
from monitor.ground.stack import EmbeddedStack


@contextlib.contextmanager
def infrastructure(settings: Settings, where: Path, *, kafka: bool) -> Iterator[Settings]:
    """``settings`` with working ``redis_url`` (and ``kafka_url`` when ``kafka``), embedded ones if unset."""
    need_kafka = kafka and not settings.kafka_url
    need_redis = not settings.redis_url
    if not need_kafka and not need_redis:
        yield settings
        return
    with EmbeddedStack(where, kafka=need_kafka, redis=need_redis) as stack:
        updates: dict[str, str] = {}
        if need_kafka:
            updates["kafka_url"] = stack.kafka_url
        if need_redis:
            updates["redis_url"] = stack.redis_url
        yield settings.model_copy(update=updates)
