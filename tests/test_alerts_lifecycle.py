"""The lifecycle script on a real Valkey: pending, firing, resolved, `for`, repeat, cooldown, stale."""

from __future__ import annotations

import redis.asyncio as aioredis

from alerts.state import AlertState
from monitor.schemas import alert_fingerprint

MINUTE = 60_000


async def test_pending_firing_repeat_resolve_cooldown_and_stale_evaluations(
    redis_client: aioredis.Redis, unique: str
) -> None:
    state = AlertState(redis_client, f"test{unique}")
    fp = alert_fingerprint("r", "ticker", "AAPL")
    steps = [
        (0, True, "pending"),
        (1, True, "none"),
        (2, True, "fire"),
        (3, True, "none"),
        (4, True, "none"),
        (5, True, "repeat"),
        (6, False, "resolve"),
        (7, True, "cooldown"),
        (10, True, "cooldown"),
        (11, True, "pending"),
        (12, False, "cleared"),
        (12, True, "stale"),
        (9, True, "stale"),
    ]
    seen = []
    for minute, condition, _ in steps:
        pipe = redis_client.pipeline(transaction=False)
        await state.queue_transition(
            pipe,
            fingerprint=fp,
            rule="r",
            scope="ticker",
            key="AAPL",
            boundary_ms=minute * MINUTE,
            condition=condition,
            for_ms=2 * MINUTE,
            repeat_ms=3 * MINUTE,
            cooldown_ms=5 * MINUTE,
            value=0.7,
        )
        seen.append(state.parse((await pipe.execute())[0]))
    assert [t.action for t in seen] == [action for *_, action in steps]
    assert {t.starts_at_ms for t in seen if t.action in ("fire", "repeat", "resolve")} == {2 * MINUTE}
    assert await state.live_keys("r") == set() and await state.firing() == []


async def test_a_quiet_key_without_state_writes_nothing(redis_client: aioredis.Redis, unique: str) -> None:
    state = AlertState(redis_client, f"test{unique}")
    pipe = redis_client.pipeline(transaction=False)
    await state.queue_transition(
        pipe,
        fingerprint="f",
        rule="r",
        scope="ticker",
        key="K",
        boundary_ms=MINUTE,
        condition=False,
        for_ms=0,
        repeat_ms=0,
        cooldown_ms=0,
        value=0.0,
    )
    assert state.parse((await pipe.execute())[0]).action == "none"
    assert await redis_client.exists(state.state_key("f")) == 0
