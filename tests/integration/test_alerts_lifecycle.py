"""The lifecycle state machine (``alerts.lifecycle.walk``) against a boundary-by-boundary reference, its edge cases
(`for`, cooldown, repeat, resolve), and the compare-and-set commit on a real Valkey."""

from __future__ import annotations

import random

import pytest
import redis.asyncio as aioredis

from alerts.lifecycle import Change, KeyState, Timing, after, walk
from alerts.state import AlertState
from monitor.ground.contracts import alert_fingerprint

STEP = 60


def reference(conditions: list[bool], timing: Timing, start: int = 0) -> list[tuple[int, str, int]]:
    """Alertmanager-like lifecycle evaluated at every boundary, written independently of ``walk``."""
    state, since, starts, notified, resolved = "inactive", 0, 0, 0, None
    out = []
    for i, cond in enumerate(conditions):
        b = start + i * STEP
        if cond:
            if state == "inactive":
                if resolved is not None and b - resolved < timing.cooldown_s:
                    continue
                if timing.for_s <= 0:
                    state, starts, notified = "firing", b, b
                    out.append((b, "fire", b))
                else:
                    state, since = "pending", b
            elif state == "pending":
                if b - since >= timing.for_s:
                    state, starts, notified = "firing", b, b
                    out.append((b, "fire", b))
            elif timing.repeat_s > 0 and b - notified >= timing.repeat_s:
                notified = b
                out.append((b, "repeat", starts))
        elif state == "pending":
            state = "inactive"
        elif state == "firing":
            state, resolved = "inactive", b
            out.append((b, "resolve", starts))
    return out


def runs(conditions: list[bool], start: int = 0) -> tuple[list[int], list[bool]]:
    points, values = [], []
    for i, cond in enumerate(conditions):
        if not values or values[-1] != cond:
            points.append(start + i * STEP)
            values.append(cond)
    return points, values


def as_tuples(changes: list[Change]) -> list[tuple[int, str, int]]:
    return [(c.boundary, c.action, c.starts_at) for c in changes]


def test_pending_fire_repeat_resolve_cooldown_in_one_series() -> None:
    timing = Timing(for_s=120, repeat_s=180, cooldown_s=300)
    series = [True] * 6 + [False] + [True] * 6 + [False]
    _, changes = walk(KeyState(), *runs(series), end=(len(series) - 1) * STEP, step=STEP, timing=timing)
    # pending at 0, fires at 2 min (for), repeats at 5 min, resolves at 6; true again at 7..12 but cooldown
    # (5 min after the resolve) holds until 11, pending from 11, cleared at 13 before `for` passes
    assert as_tuples(changes) == [(120, "fire", 120), (300, "repeat", 120), (360, "resolve", 120)]


@pytest.mark.parametrize("for_s", [0, 60, 150, 600])
@pytest.mark.parametrize("repeat_s", [0, 60, 240])
@pytest.mark.parametrize("cooldown_s", [0, 120, 1800])
def test_walking_runs_equals_evaluating_every_boundary(for_s: int, repeat_s: int, cooldown_s: int) -> None:
    rng = random.Random(for_s * 7 + repeat_s * 3 + cooldown_s)
    timing = Timing(for_s, repeat_s, cooldown_s)
    for _ in range(30):
        series = []
        while len(series) < 300:
            series += [rng.random() < 0.5] * rng.choice([1, 2, 3, 8, 40])
        expected = reference(series, timing, start=6000)
        state, changes = walk(KeyState(), *runs(series, start=6000), end=6000 + (len(series) - 1) * STEP,
                              step=STEP, timing=timing)
        assert as_tuples(changes) == expected
        # the same series walked in pieces (as the live detector does, one watermark at a time) agrees
        pieces, state, cut = [], KeyState(), 0
        while cut < len(series):
            size = rng.choice([1, 5, 17, 60])
            first, last = 6000 + cut * STEP, 6000 + (min(cut + size, len(series)) - 1) * STEP
            points, values = runs(series, start=6000)
            state, found = walk(state, *after(*restrict(points, values, last), first), end=last, step=STEP,
                                timing=timing)
            assert state.last_eval == last
            pieces += found
            cut += size
        assert as_tuples(pieces) == expected


def restrict(points: list[int], values: list[bool], last: int) -> tuple[list[int], list[bool]]:
    kept = [(p, v) for p, v in zip(points, values, strict=True) if p <= last]
    return [p for p, _ in kept], [v for _, v in kept]


def test_edge_cases_for_exactly_reached_cooldown_exactly_over_and_a_one_boundary_blip() -> None:
    timing = Timing(for_s=120, repeat_s=0, cooldown_s=120)
    _, changes = walk(KeyState(), [0, 120], [True, False], end=600, step=STEP, timing=timing)
    assert changes == []  # true at 0 and 60 only: `for` = 2 min is never reached
    _, changes = walk(KeyState(), [0, 180], [True, False], end=600, step=STEP, timing=timing)
    assert as_tuples(changes) == [(120, "fire", 120), (180, "resolve", 120)]
    state = KeyState(resolved_at=960, last_eval=960)
    _, changes = walk(state, [1020], [True], end=1500, step=STEP, timing=Timing(0, 0, 120))
    assert as_tuples(changes) == [(1080, "fire", 1080)]  # the first boundary with b - resolved >= cooldown
    _, changes = walk(KeyState(), [0, 60], [True, False], end=60, step=STEP, timing=Timing(0, 0, 0))
    assert as_tuples(changes) == [(0, "fire", 0), (60, "resolve", 0)]


async def test_commit_is_compare_and_set_so_a_second_detector_gets_stale(
    redis_client: aioredis.Redis, unique: str
) -> None:
    state = AlertState(redis_client, f"test{unique}")
    fp = alert_fingerprint("r", "ticker", "AAPL")
    (loaded, token), = await state.load([fp])
    assert loaded == KeyState() and token == ""
    firing = KeyState(state="firing", starts_at=120, last_notify=120, last_eval=300)
    replies = []
    for _ in range(2):  # two detectors that both read the empty state commit the same decision
        pipe = redis_client.pipeline(transaction=False)
        await state.queue_commit(pipe, token=token, state=firing, changes=[Change(120, "fire", 120)],
                                 fingerprint=fp, rule="r", scope="ticker", key="AAPL", value=0.7, decided_ms=5)
        replies += await pipe.execute()
    assert [r.decode() if isinstance(r, bytes) else r for r in replies] == ["ok", "stale"]
    (again, token2), = await state.load([fp])
    assert again == firing and token2 == "300000"
    assert await state.live_keys("r") == {"AAPL"}
    assert [row["key"] for row in await state.firing()] == ["AAPL"]
    assert [(d.fingerprint, d.boundary_ms, d.transition.action) for d in await state.decisions()] == [
        (fp, 120_000, "fire")]
    pipe = redis_client.pipeline(transaction=False)
    resolved = KeyState(state="inactive", starts_at=120, last_notify=120, resolved_at=360, last_eval=600)
    await state.queue_commit(pipe, token=token2, state=resolved, changes=[Change(360, "resolve", 120)],
                             fingerprint=fp, rule="r", scope="ticker", key="AAPL", value=0.1)
    await pipe.execute()
    assert await state.live_keys("r") == set() and await state.firing() == []
