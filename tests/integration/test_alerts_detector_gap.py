"""The live detector's cost follows the stories, not the minutes: a watermark that jumps over weeks evaluates a
handful of change points per key, and the same data gives the same alerts as the in-memory backtest engine."""

from __future__ import annotations

from datetime import timedelta

import redis.asyncio as aioredis

from alerts import metrics
from alerts.detector import Detector
from alerts.rules import parse_rules
from monitor.history.engine import run_rules
from tests.support import windows_fixtures
from tests.support.alerts_fixtures import background, run_detector
from tests.support.windows_fixtures import scored

make_store = windows_fixtures.make_store
RULES = """
[[rule]]
name = "surprise"
scope = "ticker"
windows = ["1h", "6h", "24h"]
baseline = "2d"
surprise_above = 3
min_negative = 3
min_volume = 3
cooldown = "1h"
repeat_interval = "2h"
"""


def crisis(start: timedelta, n: int = 12) -> list:
    return [scored(f"crisis{start}-{i}", start + timedelta(minutes=3 * i), "negative", tickers=("AAPL",))
            for i in range(n)]


async def test_a_month_long_jump_costs_points_not_minutes_and_matches_the_backtest(
    make_store, redis_client: aioredis.Redis, unique: str
) -> None:
    rules = parse_rules(RULES)
    later = [s.model_copy(update={"id": f"later-{s.id}"}) for s in background(72, start=timedelta(days=33))]
    stories = background(72) + crisis(timedelta(hours=60)) + later + crisis(timedelta(days=35, hours=12))
    store = make_store(allowed_lateness_s=60)
    detector = Detector(redis_client, store, rules, f"test{unique}")
    counter = metrics.EVALUATIONS.labels(rule="surprise")
    before = counter._value.get()
    live = await run_detector(store, [detector], stories, batch_minutes=24 * 60)
    evaluated = counter._value.get() - before
    minutes = (stories[-1].published_at - stories[0].published_at).total_seconds() / 60
    assert evaluated < minutes / 20, f"{evaluated} evaluations for {minutes:.0f} minutes of event time"
    fired = [a for a in live if a.status == "firing" and a.annotations.get("repeat") != "true"]
    assert len(fired) == 2 and fired[0].starts_at < stories[0].published_at + timedelta(days=3)
    ordered = sorted(stories, key=lambda s: (s.published_at, s.id))
    offline = run_rules(rules, ordered, store.bucket_seconds, 60).alerts
    identity = [(a.fingerprint, a.status, a.starts_at, a.ends_at, a.value, a.annotations.get("surprise"))
                for a in live]
    assert identity == [(a.fingerprint, a.status, a.starts_at, a.ends_at, a.value, a.annotations.get("surprise"))
                        for a in offline]
