"""The detector in event time on a real Valkey: a burst fires once with the right numbers, guards hold."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis

from alerts.detector import Detector
from monitor.ground.contracts import ScoredStory, alert_fingerprint
from tests.support import windows_fixtures
from tests.support.alerts_fixtures import T0, background, burst_rules, clock, run_detector, scored

make_store = windows_fixtures.make_store
BURST_AT = timedelta(hours=24, minutes=10)


def burst(n: int, *, novelty: float = 1.0, syndicated: bool = False) -> list[ScoredStory]:
    """``n`` negative AAPL stories within four minutes (syndicated: one story copied by other feeds)."""
    return [
        scored(
            f"burst{i}",
            BURST_AT + timedelta(seconds=20 * i),
            "negative",
            score=-0.9 + 0.01 * i,
            source=f"feed{i}" if syndicated else "wire",
            novelty=1.0 if i == 0 else novelty,
            title="Apple recalls iPhone" if syndicated else f"Apple hit by probe {i}",
        )
        for i in range(n)
    ]


def direct_window(
    stories: list[ScoredStory], key: str, start: datetime, end: datetime
) -> tuple[float, float]:
    """(novelty-weighted negative share, novelty volume) computed straight from the stories."""
    chosen = [s for s in stories if key in s.tickers and start <= s.published_at < end]
    volume = sum(s.novelty for s in chosen)
    negative = sum(s.novelty for s in chosen if s.sentiment.label == "negative")
    return (negative / volume if volume else 0.0), volume


def direct_condition(stories: list[ScoredStory], at: datetime) -> bool:
    """The burst rule evaluated by hand at boundary ``at`` (share, volume, and the hourly baseline's z)."""
    share, volume = direct_window(stories, "AAPL", at - timedelta(minutes=15), at)
    hour = (at - timedelta(minutes=15)).replace(minute=0, second=0)
    hours = [
        direct_window(stories, "AAPL", hour - timedelta(hours=h + 1), hour - timedelta(hours=h))
        for h in range(24)
    ]
    hours = [(s, v) for s, v in hours if v > 0]
    mean = sum(s * v for s, v in hours) / sum(v for _, v in hours)
    spread = math.sqrt(sum(v * (s - mean) ** 2 for s, v in hours) / sum(v for _, v in hours))
    z = (share - mean) / max(spread, math.sqrt(mean * (1 - mean) / max(volume, 1)), 0.05)
    return volume >= 5 and share > 0.6 and z > 3.0


@pytest.fixture
def detector_for(redis_client: aioredis.Redis, unique: str):
    def build(store, text: str | None = None) -> Detector:
        return Detector(
            redis_client, store, burst_rules() if text is None else burst_rules(text), f"test{unique}"
        )

    return build


async def test_a_negative_burst_fires_exactly_one_alert_with_the_numbers_then_resolves_once(
    make_store, detector_for
) -> None:
    store = make_store(allowed_lateness_s=60)
    stories = background(26) + burst(12) + background(26, ticker="MSFT", negative_every=3)
    alerts = await run_detector(store, [detector_for(store)], stories)
    firing = [a for a in alerts if a.status == "firing"]
    resolved = [a for a in alerts if a.status == "resolved"]
    assert [(a.rule, a.scope, a.key) for a in firing] == [("burst", "ticker", "AAPL")]
    alert = firing[0]
    assert alert.fingerprint == alert_fingerprint("burst", "ticker", "AAPL")
    # `for = 2m`: the condition held at the boundary two minutes earlier, and not one minute before that
    assert [direct_condition(stories, alert.starts_at - timedelta(minutes=m)) for m in (3, 2, 1, 0)] == [
        False,
        True,
        True,
        True,
    ]
    share, volume = direct_window(stories, "AAPL", alert.starts_at - timedelta(minutes=15), alert.starts_at)
    assert alert.value == pytest.approx(share, abs=1e-6) and alert.value > 0.6
    assert alert.count == pytest.approx(volume, abs=1e-6)
    assert alert.baseline == pytest.approx(
        1 / 6, abs=1e-6
    )  # one story in six of the steady stream is negative
    assert alert.zscore is not None and alert.zscore > 3
    assert alert.severity == "critical" and alert.labels["team"] == "markets"
    assert alert.annotations["summary"].startswith(f"AAPL: {share:.0%} negative over 15m, z=")
    assert len(alert.samples) == 5 and alert.samples[0].title == "Apple hit by probe 0"
    assert all(s.url.startswith("https://news.example/burst") and s.score < 0 for s in alert.samples)
    # the window recovers: one resolved notification, same fingerprint and starts_at
    assert len(resolved) == 1
    assert (resolved[0].fingerprint, resolved[0].starts_at) == (alert.fingerprint, alert.starts_at)
    assert resolved[0].ends_at is not None and not direct_condition(stories, resolved[0].ends_at)
    assert direct_condition(stories, resolved[0].ends_at - timedelta(minutes=1))


async def test_a_steady_negative_trickle_at_baseline_level_fires_nothing(make_store, detector_for) -> None:
    store = make_store(allowed_lateness_s=60)
    trickle = [
        scored(f"t{i}", timedelta(minutes=i), "negative" if i % 10 < 7 else "positive")
        for i in range(27 * 60)
    ]
    alerts = await run_detector(store, [detector_for(store)], trickle)
    share, volume = direct_window(
        trickle, "AAPL", T0 + timedelta(hours=26), T0 + timedelta(hours=26, minutes=15)
    )
    assert share > 0.6 and volume >= 5  # the absolute thresholds alone would fire: the z-score guard holds it
    assert alerts == []


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("below the minimum volume", burst(2)),
        ("one story syndicated by ten feeds", burst(10, novelty=0.05, syndicated=True)),
    ],
)
async def test_guards_keep_small_or_syndicated_bursts_quiet(make_store, detector_for, name, extra) -> None:
    store = make_store(allowed_lateness_s=60)
    alerts = await run_detector(store, [detector_for(store)], background(26) + extra + clock(BURST_AT, 60))
    assert alerts == [], name
    stats = await store.window("ticker", "AAPL", "15m", T0 + BURST_AT + timedelta(minutes=5))
    assert stats.novelty_volume < 5 and stats.negative >= 2


async def test_two_detectors_evaluating_the_same_keys_concurrently_fire_once(
    make_store, detector_for, stack, unique: str
) -> None:
    from alerts import metrics

    stale = metrics.TRANSITIONS.labels(rule="burst", action="stale")
    before = stale._value.get()
    store = make_store(allowed_lateness_s=60)
    other_client = aioredis.from_url(stack.redis_url)
    try:
        second = Detector(other_client, store, burst_rules(), f"test{unique}")
        alerts = await run_detector(store, [detector_for(store), second], background(26) + burst(12), 20)
    finally:
        await other_client.aclose()
    assert [(a.status, a.key) for a in alerts] == [("firing", "AAPL"), ("resolved", "AAPL")]
    assert stale._value.get() > before  # they really raced: the loser of each transition got "stale"


async def test_replaying_the_same_data_in_other_batches_gives_the_same_alerts(
    make_store, detector_for
) -> None:
    stories = background(26) + burst(12) + background(26, ticker="MSFT", negative_every=3)
    first_store = make_store(allowed_lateness_s=60)
    first = await run_detector(first_store, [detector_for(first_store)], stories, batch_minutes=30)
    replay_store = make_store(suffix="replay", allowed_lateness_s=60)
    replay = Detector(first_store.redis, replay_store, burst_rules(), replay_store.namespace)
    second = await run_detector(replay_store, [replay], stories, batch_minutes=7)
    assert [a.model_dump() for a in first] == [a.model_dump() for a in second]
    assert len(first) == 2


async def test_a_decision_never_handed_on_is_re_emitted_identically_after_a_crash(
    make_store, redis_client: aioredis.Redis, unique: str
) -> None:
    """The worker commits a transition in Redis before its alert reaches Kafka. If it dies in between, the next
    worker process must emit the very same alert (same notification), and nothing once it was handed on."""
    from alerts.delivery.notifier import notification_id

    store = make_store(allowed_lateness_s=60)
    namespace = f"test{unique}"
    crashed = Detector(redis_client, store, burst_rules(), namespace, hand_off=True)
    decided = await run_detector(store, [crashed], background(26) + burst(12))  # never calls handed_on
    assert [a.status for a in decided] == ["firing", "resolved"]
    watermark = max(a.ends_at or a.starts_at for a in decided) + timedelta(hours=1)

    # The same process does not re-emit its own recent decisions (they may still be on their way) ...
    assert await crashed.evaluate(set(), watermark) == []
    # ... a restarted one does, in decision order, byte for byte.
    restarted = Detector(redis_client, store, burst_rules(), namespace, hand_off=True)
    recovered = await restarted.evaluate(set(), watermark + timedelta(minutes=1))
    assert [a.model_dump() for a in recovered] == [a.model_dump() for a in decided]
    assert [notification_id(a) for a in recovered] == [notification_id(a) for a in decided]

    await restarted.handed_on(recovered)
    again = Detector(redis_client, store, burst_rules(), namespace, hand_off=True)
    assert await again.evaluate(set(), watermark + timedelta(minutes=2)) == []
    assert await redis_client.hlen(f"{namespace}:a:handoff") == 0


async def test_without_hand_off_tracking_nothing_is_recorded(make_store, detector_for, redis_client, unique) -> None:
    store = make_store(allowed_lateness_s=60)
    alerts = await run_detector(store, [detector_for(store)], background(26) + burst(12))
    assert len(alerts) == 2
    assert await redis_client.exists(f"test{unique}:a:handoff") == 0
