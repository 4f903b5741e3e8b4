"""Story builders and a window-store fixture shared by the windows and alerts tests.

Stories carry synthetic ``published_at`` times: all detection is in event time, so hours of news can be fed in
milliseconds of wall time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from monitor.ground.contracts import ModelInfo, ScoredStory, SentimentScore, TopicScore
from monitor.stages.windows import WindowStore

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
_SCORES = {"negative": -0.8, "neutral": 0.0, "positive": 0.7}


def scored(
    story_id: str,
    at: datetime | timedelta,
    label: str = "negative",
    *,
    score: float | None = None,
    tickers: tuple[str, ...] = ("AAPL",),
    topic: str = "Stock Movement",
    source: str = "wire",
    novelty: float = 1.0,
    title: str | None = None,
) -> ScoredStory:
    """One scored story; ``at`` may be an offset from ``T0``."""
    published = T0 + at if isinstance(at, timedelta) else at
    value = _SCORES[label] if score is None else score
    p_neg = max(-value, 0.0)
    p_pos = max(value, 0.0)
    return ScoredStory(
        id=story_id,
        source=source,
        url=f"https://news.example/{story_id}",
        title=title or f"Headline {story_id}",
        published_at=published,
        fetched_at=published + timedelta(seconds=5),
        tickers=list(tickers),
        novelty=novelty,
        topic=TopicScore(label=topic, p=0.9),
        sentiment=SentimentScore(label=label, score=value, p_pos=p_pos, p_neu=1 - p_pos - p_neg, p_neg=p_neg),
        model=ModelInfo(name="test", version="0"),
    )


@pytest.fixture
def make_store(redis_client: aioredis.Redis, unique: str):
    """``make_store(suffix="", **kwargs)`` -> a WindowStore in this test's own namespace (plus ``suffix``)."""

    def build(suffix: str = "", **kwargs: object) -> WindowStore:
        options: dict[str, object] = {"bucket_seconds": 60, "allowed_lateness_s": 300}
        options.update(kwargs)
        return WindowStore(redis_client, f"test{unique}{suffix}", **options)  # type: ignore[arg-type]

    return build
