"""Feeding a real worker for the status-page and metrics tests: live-time stories, a negative burst, helpers.

Stories carry ``published_at`` over the last three hours of wall time so the windows that end at the watermark
(and the status page's six-hour chart) hold them. Most go through the model (``news.raw``); a burst of already
scored negative stories goes straight to ``news.scored`` — the aggregate stage's own contract — so that one ticker
is known to be 100 % negative whatever the tiny random-weight model decides.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis.asyncio as aioredis

from monitor.ground.contracts import ModelInfo, ScoredStory, SentimentScore, Story, TopicScore, encode
from monitor.ground.kafka import make_producer
from monitor.ground.settings import Settings
from monitor.stages.windows import WindowStore
from tests.support.ceilings import READY_CEILING_S, wait_for

TICKERS = ["AAPL", "MSFT", "JPM", "XOM", "TSLA", "NVDA", "BAC", "GS", "PFE", "KO", "WMT", "BA"]
BURST_TICKER = "BEARX"
HOSTILE_TITLE = '<img src=x onerror="document.title=\'pwned\'"> Acme <b>bold</b> claims'
HEADLINES = [
    "{t} shares slump after profit warning", "{t} beats estimates and raises guidance",
    "Regulators open probe into {t} accounting", "{t} announces buyback as cash piles up",
    "Analysts cut {t} price target on weak demand", "{t} holds annual meeting; no surprises",
    "Lawsuit against {t} dismissed by court", "{t} recalls products over safety concerns",
]


def burst_rules_file(directory: Path) -> Path:
    """A rule without a baseline that the burst fires within minutes of event time (the shipped rules compare
    against a 7-day baseline that a test has no time to build)."""
    path = directory / "rules.toml"
    path.write_text(f"""
[[rule]]
name = "test_ticker_negative"
scope = "ticker"
keys = ["{BURST_TICKER}"]
window = "15m"
min_volume = 5
negative_share_above = 0.8
for = "2m"
severity = "critical"
""")
    return path


def live_stories(count: int, now: datetime, seed: int = 3) -> list[Story]:
    """``count`` stories over the three hours before ``now``; the newest one has a hostile, HTML-laden title."""
    rng = random.Random(seed)
    stories = []
    for i in range(count):
        at = now - timedelta(seconds=rng.randrange(120, 3 * 3600))
        tickers = rng.sample(TICKERS, rng.randint(1, 2))
        stories.append(Story(
            id=f"live-{seed}-{i}", source=rng.choice(["reuters", "cnbc", "ft"]), feed="test",
            url=f"https://news.example/{seed}/{i}", title=rng.choice(HEADLINES).format(t=tickers[0]) + f" #{i}",
            published_at=at, fetched_at=at + timedelta(seconds=20), tickers=tickers, novelty=rng.choice([1.0, 0.5]),
        ))
    newest = now - timedelta(seconds=60)
    stories.append(Story(id=f"live-{seed}-hostile", source="reuters", url="javascript:alert(1)", title=HOSTILE_TITLE,
                         published_at=newest, fetched_at=newest, tickers=["AAPL"]))
    return stories


def negative_burst(count: int, now: datetime, ticker: str = BURST_TICKER) -> list[ScoredStory]:
    """``count`` already-scored, clearly negative stories about ``ticker`` from 45 to 5 minutes before ``now``."""
    burst = []
    for i in range(count):
        at = now - timedelta(minutes=45) + timedelta(minutes=40 * i / max(count - 1, 1))
        burst.append(ScoredStory(
            id=f"burst-{ticker}-{i}", source="wire", url=f"https://news.example/burst/{i}",
            title=f"{ticker} plunges as fraud allegations mount ({i})", published_at=at, fetched_at=at,
            tickers=[ticker], topic=TopicScore(label="Legal | Regulation", p=0.9),
            sentiment=SentimentScore(label="negative", score=-0.9, p_pos=0.0, p_neu=0.1, p_neg=0.9),
            model=ModelInfo(name="fixture", version="1"),
        ))
    return burst


Message = Story | ScoredStory | tuple[bytes, bytes]


async def produce(settings: Settings, topic: str, messages: Iterable[Message]) -> None:
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    try:
        for message in messages:
            key, value = message if isinstance(message, tuple) else (message.id.encode(), encode(message))
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()




async def feed_worker(settings: Settings, redis_client: aioredis.Redis, stories: int = 200,
                      burst: int = 20) -> datetime:
    """Produce the burst, then the stories, and wait until the windows hold all of them; returns ``now``.

    The burst goes first and is waited for: alerts are evaluated in event time up to the watermark, and a
    boundary already evaluated is never re-opened, so a burst arriving after newer stories would only be counted
    late, never alerted on. Live news arrives in event-time order much like this.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    store = WindowStore(redis_client, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    until = now + timedelta(minutes=1)

    async def counted(scope: str, key: str, expected: int) -> bool:
        return (await store.window(scope, key, "24h", at=until, samples=False)).count >= expected

    await produce(settings, settings.topics.scored, negative_burst(burst, now))
    await wait_for(lambda: counted("ticker", BURST_TICKER, burst), READY_CEILING_S,
                   f"{burst} burst stories in the windows")
    raw = live_stories(stories, now)
    await produce(settings, settings.topics.raw, raw)
    await wait_for(lambda: counted("market", "all", len(raw) + burst), READY_CEILING_S,
                   f"{len(raw) + burst} stories in the market window")
    return now
