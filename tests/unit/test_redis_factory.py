"""The one Redis client factory (monitor.ground.redis): every client carries the timeouts it was given."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from monitor.ground.redis import COMMAND, PROBE, SERVICE, RedisTimeouts, blocking_redis_client, redis_client
from monitor.ground.retry import is_transient


def _kwargs(client: aioredis.Redis) -> dict[str, object]:
    return dict(client.connection_pool.connection_kwargs)


def test_every_preset_names_a_connect_and_a_reply_timeout() -> None:
    for preset in (SERVICE, COMMAND, PROBE):
        assert preset.connect_s > 0 and preset.socket_s > 0
    assert SERVICE.health_check_s > 0  # long-lived connections are checked before reuse


def test_redis_client_passes_its_timeouts_on() -> None:
    client = redis_client("redis://127.0.0.1:1/2", RedisTimeouts(connect_s=1.5, socket_s=2.5, health_check_s=4.0))
    kwargs = _kwargs(client)
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"], kwargs["health_check_interval"]) == (
        1.5, 2.5, 4.0)
    assert kwargs["db"] == 2
    asyncio.run(client.aclose())


def test_blocking_client_waits_for_a_free_connection_within_its_limit() -> None:
    client = blocking_redis_client("redis://127.0.0.1:1/0", PROBE, max_connections=3, pool_timeout_s=12.0)
    pool = client.connection_pool
    assert isinstance(pool, aioredis.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (3, 12.0)
    assert _kwargs(client)["socket_timeout"] == PROBE.socket_s
    asyncio.run(client.aclose())


def test_an_unreachable_server_fails_within_the_connect_timeout() -> None:
    """Port 1 on loopback refuses at once; the point is that the call raises instead of hanging."""
    client = redis_client("redis://127.0.0.1:1/0", PROBE)

    async def ping() -> BaseException | None:
        try:
            await client.ping()
        except Exception as exc:  # noqa: BLE001 - the test inspects what it is
            return exc
        finally:
            await client.aclose()
        return None

    error = asyncio.run(ping())
    assert error is not None and is_transient(error)
