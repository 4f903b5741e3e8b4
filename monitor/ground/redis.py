"""The one way Bearwatch opens a Redis client: every timeout named and chosen on purpose.

Eight hand-built clients had six timeout sets, one had none: a Redis that accepted the connection and then went
silent hung ``bearwatch feeds list`` for ever. A client is built from a :class:`RedisTimeouts`:

- ``connect_s``: to open a TCP connection (a dead host fails in seconds, not the kernel's minutes);
- ``socket_s``: for any one reply once connected; Bearwatch issues no blocking commands (no ``BLPOP``,
  ``XREAD BLOCK``), so a reply slower than this means a server in trouble;
- ``health_check_s``: a long-lived client PINGs a connection idle this long before reusing it, so a connection
  that a restarted server or a NAT dropped is replaced instead of failing the next real command (0: off).

Three presets cover the callers: :data:`SERVICE` for long-running processes (worker, consumers, alert delivery),
:data:`COMMAND` for one CLI command's work, :data:`PROBE` for "is it up?" checks (doctor, ``bearwatch up``).
Errors from these clients are classified by :func:`monitor.ground.retry.is_transient`.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

__all__ = ["COMMAND", "PROBE", "SERVICE", "RedisTimeouts", "blocking_redis_client", "redis_client"]


@dataclass(frozen=True)
class RedisTimeouts:
    """Seconds for connecting, for one reply, and between health checks of an idle connection (0: none)."""

    connect_s: float
    socket_s: float
    health_check_s: float = 0.0


SERVICE = RedisTimeouts(connect_s=5.0, socket_s=10.0, health_check_s=10.0)
COMMAND = RedisTimeouts(connect_s=5.0, socket_s=10.0)
PROBE = RedisTimeouts(connect_s=3.0, socket_s=3.0)


def redis_client(url: str, timeouts: RedisTimeouts = SERVICE) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, ``unix://``) with the default pool.

    The default pool opens a connection per concurrent command up to its limit; use
    :func:`blocking_redis_client` where many tasks share one client.
    """
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=timeouts.connect_s, socket_timeout=timeouts.socket_s,
        health_check_interval=timeouts.health_check_s,
    )


def blocking_redis_client(
    url: str, timeouts: RedisTimeouts = SERVICE, *, max_connections: int, pool_timeout_s: float = 30.0
) -> aioredis.Redis:
    """A client whose pool *waits* up to ``pool_timeout_s`` for a free connection among ``max_connections``.

    Hundreds of feed tasks share a few connections; the default pool raises "Too many connections" once its
    limit is reached, this one queues them.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout_s, socket_connect_timeout=timeouts.connect_s,
        socket_timeout=timeouts.socket_s, health_check_interval=timeouts.health_check_s,
    )
    return aioredis.Redis(connection_pool=pool)
