"""The worker's Redis client and its retry: an outage pauses the stream instead of dropping stories.

Window updates are idempotent by story id and the detector's commits are compare-and-set, so a retried call never
double-counts. The client and the policy come from the ground (``monitor.ground.redis``, ``monitor.ground.retry``):
the worker is a long-running service, so it gets the ``SERVICE`` timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from monitor.ground.redis import SERVICE, redis_client
from monitor.ground.retry import Backoff, retry
from monitor.ground.settings import Settings
from monitor.stages.worker import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")

#: From 0.2 s, doubling, at most 10 s between tries: a Redis restart costs seconds, not a thundering herd.
REDIS_BACKOFF = Backoff(base_s=0.2, cap_s=10.0)


def worker_redis(settings: Settings) -> aioredis.Redis:
    """The worker's one Redis client (windows, detector state, outbox, status page)."""
    if not settings.redis_url:
        raise ValueError("the worker needs BEARWATCH_REDIS_URL (bearwatch up sets it)")
    return redis_client(settings.redis_url, SERVICE)


def _count_retry(exc: BaseException, failures: int, delay: float) -> None:
    metrics.REDIS_ERRORS.inc()
    log.warning("Redis unavailable (%s); retrying in %.1f s", type(exc).__name__, delay)


async def retry_redis(call: Callable[[], Awaitable[T]], backoff: Backoff = REDIS_BACKOFF) -> T:
    """Await ``call()`` until it succeeds; transient errors (``monitor.ground.retry.is_transient``) are counted in
    ``bearwatch_worker_redis_errors_total`` and retried, anything else is raised."""
    return await retry(call, backoff, on_retry=_count_retry)
