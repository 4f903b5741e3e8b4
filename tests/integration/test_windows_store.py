"""Event-time windows in a real Valkey: exact counts, idempotency, order independence, lateness, ranking."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from monitor.ground.contracts import ScoredStory
from monitor.stages.windows import WindowStats, parse_span
from monitor.stages.windows.spans import cover, levels_for
from monitor.stages.windows.writer import scope_keys
from tests.support import windows_fixtures
from tests.support.windows_fixtures import T0, scored

make_store = windows_fixtures.make_store  # the fixture, shared with the alerts tests

TICKERS = ("AAPL", "MSFT", "TSLA", "NVDA")
TOPICS = ("Stock Movement", "Earnings", "Macro")
LABELS = ("negative", "neutral", "positive")


def random_stories(seed: int, n: int, hours: float) -> list[ScoredStory]:
    rng = random.Random(seed)
    stories = []
    for i in range(n):
        label = rng.choice(LABELS)
        score = {"negative": -1, "neutral": 0, "positive": 1}[label] * rng.uniform(0.2, 1.0)
        tickers = tuple(rng.sample(TICKERS, rng.randint(0, 2)))
        stories.append(
            scored(
                f"s{seed}-{i}",
                timedelta(seconds=rng.uniform(0, hours * 3600)),
                label,
                score=round(score, 4),
                tickers=tickers,
                topic=rng.choice(TOPICS),
                source=rng.choice(("wire", "blog")),
                novelty=rng.choice((1.0, 1.0, 0.5, 0.1)),
            )
        )
    return stories


def expected(
    stories: Sequence[ScoredStory], scope: str, key: str, span: str, at: datetime
) -> dict[str, float]:
    """The window computed directly in Python: stories of the key with ``at - span <= published_at < at``."""
    start = at - parse_span(span)
    chosen = [s for s in stories if start <= s.published_at < at and (scope, key) in scope_keys(s)]
    labels = [s.sentiment.label for s in chosen]
    return {
        "count": len(chosen),
        "negative": labels.count("negative"),
        "neutral": labels.count("neutral"),
        "positive": labels.count("positive"),
        "score_sum": sum(s.sentiment.score for s in chosen),
        "novelty_volume": sum(s.novelty for s in chosen),
    }


def observed(stats: WindowStats) -> dict[str, float]:
    return {
        "count": stats.count,
        "negative": stats.negative,
        "neutral": stats.neutral,
        "positive": stats.positive,
        "score_sum": stats.score_sum,
        "novelty_volume": stats.novelty_volume,
    }


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    return all(a[k] == pytest.approx(b[k], abs=1e-5) for k in a)


async def test_window_counts_equal_counts_computed_directly_from_the_stories(make_store) -> None:
    stories = random_stories(seed=7, n=400, hours=30)
    store = make_store()
    for i in range(0, len(stories), 37):  # batches of an odd size
        await store.apply(stories[i : i + 37])
    checks = 0
    for at in (
        T0 + timedelta(hours=29, minutes=17),
        T0 + timedelta(hours=14, minutes=3),
        T0 + timedelta(hours=31),
    ):
        for span in ("5m", "15m", "1h", "24h", "7d"):
            for scope, key in [
                ("market", "all"),
                ("topic", "Earnings"),
                ("ticker", "AAPL"),
                ("ticker", "NVDA"),
                ("source", "blog"),
            ]:
                stats = await store.window(scope, key, span, at)
                want = expected(stories, scope, key, span, at)
                assert same(observed(stats), want), (scope, key, span, at, observed(stats), want)
                checks += want["count"] > 0
    assert checks > 40  # the comparisons were not all of empty windows


async def test_applying_the_same_stories_twice_leaves_counts_unchanged(make_store) -> None:
    stories = random_stories(seed=11, n=120, hours=2)
    store = make_store()
    first = await store.apply(stories)
    before = [await store.window("ticker", t, "1h", T0 + timedelta(hours=2)) for t in TICKERS]
    again = await store.apply(list(reversed(stories)))  # redelivery, in another order and batching
    after = [await store.window("ticker", t, "1h", T0 + timedelta(hours=2)) for t in TICKERS]
    assert (first.applied, first.duplicates) == (120, 0)
    assert (again.applied, again.duplicates, again.touched) == (0, 120, set())
    assert before == after
    # a second store object (another worker) on the same namespace also sees them as duplicates
    assert (await make_store().apply(stories[:10])).duplicates == 10


async def test_out_of_order_stories_give_the_same_windows_as_in_order(make_store) -> None:
    stories = random_stories(seed=3, n=300, hours=2)
    in_order = sorted(stories, key=lambda s: s.published_at)
    shuffled = stories[:]
    random.Random(5).shuffle(shuffled)
    ordered_store = make_store()
    shuffled_store = make_store(suffix="shuffled")
    for i in range(0, 300, 50):
        await ordered_store.apply(in_order[i : i + 50])
        await shuffled_store.apply(shuffled[i : i + 50])
    late = (await shuffled_store.window("market", "all", "3h", T0 + timedelta(hours=3))).late
    assert late > 0  # shuffling across 2 hours with 5 minutes lateness really produced late stories
    ends = [
        ("15m", T0 + timedelta(minutes=47)),
        ("1h", T0 + timedelta(hours=2)),
        ("5m", T0 + timedelta(minutes=95)),
    ]
    for span, at in ends:
        for scope, key in [("market", "all"), ("ticker", "TSLA"), ("topic", "Macro")]:
            a = await ordered_store.window(scope, key, span, at)
            b = await shuffled_store.window(scope, key, span, at)
            assert observed(a) == observed(b)
            assert [s.id for s in a.samples] == [s.id for s in b.samples]


async def test_a_story_older_than_the_lateness_bound_is_counted_late_and_still_stored(make_store) -> None:
    from monitor.stages.windows import metrics

    store = make_store(allowed_lateness_s=300)
    before = metrics.LATE._value.get()
    await store.apply([scored("now", timedelta(hours=2), "neutral")])
    assert await store.watermark() == T0 + timedelta(hours=2, minutes=-5)
    on_time = await store.apply([scored("recent", timedelta(hours=2, minutes=-4), "positive")])
    result = await store.apply([scored("old", timedelta(minutes=10), "negative")])
    assert on_time.late == 0
    assert (result.applied, result.late) == (1, 1)
    assert ("ticker", "AAPL") in result.touched
    assert metrics.LATE._value.get() == before + 1
    stats = await store.window("ticker", "AAPL", "1h", T0 + timedelta(hours=1))
    assert (stats.count, stats.negative, stats.late) == (1, 1, 1)
    assert [s.id for s in stats.samples] == ["old"]


async def test_top_orders_by_negative_share_and_drops_keys_below_min_volume(make_store) -> None:
    store = make_store()
    plan = {"AAPL": (4, 1), "MSFT": (2, 3), "TSLA": (5, 0), "NVDA": (2, 0), "AMD": (1, 3)}  # (neg, pos)
    stories = []
    for ticker, (neg, pos) in plan.items():
        for i in range(neg + pos):
            label = "negative" if i < neg else "positive"
            stories.append(scored(f"{ticker}{i}", timedelta(minutes=i), label, tickers=(ticker,)))
    await store.apply(stories)
    ranked = await store.top("ticker", "15m", min_volume=3, at=T0 + timedelta(minutes=15))
    assert [key for key, _ in ranked] == ["TSLA", "AAPL", "MSFT", "AMD"]  # NVDA has only 2 stories
    assert ranked[0][1].negative_share == 1.0 and ranked[1][1].negative_share == pytest.approx(0.8)
    assert ranked[-1][1].negative_share == pytest.approx(0.25)
    assert len(ranked[0][1].samples) == 5 and all(s.score < 0 for s in ranked[0][1].samples)
    by_volume = await store.top(
        "ticker", "15m", by="-volume", min_volume=0, limit=2, at=T0 + timedelta(minutes=15)
    )
    assert [key for key, _ in by_volume] == ["NVDA", "AMD"]  # ascending; 2 < 4 (AMD) and ties break by name
    with pytest.raises(ValueError, match="unknown window metric"):
        await store.top("ticker", "15m", by="loudness")


async def test_series_and_recent_headlines_for_the_status_page(make_store) -> None:
    store = make_store()
    stories = [
        scored(f"h{i}", timedelta(minutes=10 * i), "negative" if i % 2 else "positive") for i in range(12)
    ]
    await store.apply(stories)
    points = await store.series("ticker", "AAPL", "2h", "30m", at=T0 + timedelta(hours=2))
    assert [t - T0 for t, _ in points] == [timedelta(minutes=m) for m in (30, 60, 90, 120)]
    assert [p.count for _, p in points] == [3, 3, 3, 3]
    recent = await store.recent(limit=3)
    assert [r["id"] for r in recent] == ["h11", "h10", "h9"]
    assert set(recent[0]) >= {"id", "title", "url", "topic", "label", "score", "published_at"}


@pytest.mark.parametrize("minute", [0, 1, 29, 59, 61, 733, 1439])
def test_a_7d_window_reads_fewer_than_200_buckets(minute: int) -> None:
    levels = levels_for(60)
    end = 1_714_000_000 // 60 * 60 + minute * 60
    blocks = cover(end - 7 * 86400, end, levels)
    assert sum(size for size, _ in blocks) == 7 * 86400
    assert len(blocks) <= 200


async def test_blank_and_repeated_tickers_are_counted_once_and_reported(make_store) -> None:
    from monitor.stages.windows import metrics

    before = metrics.INVALID.labels(reason="empty_ticker")._value.get()
    store = make_store()
    result = await store.apply([scored("dup", timedelta(minutes=1), tickers=("AAPL", " AAPL", "", "MSFT"))])
    assert result.touched == {
        ("market", "all"),
        ("topic", "Stock Movement"),
        ("ticker", "AAPL"),
        ("ticker", "MSFT"),
        ("source", "wire"),
    }
    assert (await store.window("ticker", "AAPL", "15m", T0 + timedelta(minutes=15))).count == 1
    assert metrics.INVALID.labels(reason="empty_ticker")._value.get() == before + 1


async def test_weighted_mean_score_is_the_novelty_weighted_average_of_scores(make_store) -> None:
    store = make_store()
    await store.apply([
        windows_fixtures.scored("w1", timedelta(minutes=1), score=-0.9, novelty=1.0),
        windows_fixtures.scored("w2", timedelta(minutes=2), score=0.3, novelty=0.5),
    ])
    stats = await store.window("ticker", "AAPL", "1h", T0 + timedelta(hours=1))
    assert stats.weighted_mean_score == pytest.approx((-0.9 * 1.0 + 0.3 * 0.5) / 1.5, abs=1e-6)
    assert stats.mean_score == pytest.approx((-0.9 + 0.3) / 2, abs=1e-6)
