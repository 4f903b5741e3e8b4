"""Label cardinality of the sentiment gauges stays bounded, however many tickers the news mentions.

Real Valkey and the real window store: 5,000 distinct tickers are counted into the windows, the gauges refresh,
and the exposition (as Prometheus would scrape it) holds exactly N tickers — the N with the most news. When
other tickers become the busiest, the old ones' series disappear instead of lingering as stale values.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.shell.web.sentiment_gauges import WINDOW_METRICS, SentimentGauges
from monitor.stages.model.labels import TOPIC_LABELS
from tests.support.windows_fixtures import make_store, scored  # noqa: F401 - fixture

TOP_N = 50


def scrape(registry: CollectorRegistry) -> dict[str, dict[tuple[str, str], set[str]]]:
    """metric -> (scope, window) -> keys, parsed from the text exposition."""
    found: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if {"scope", "key", "window"} <= set(sample.labels):
                labels = sample.labels
                found[sample.name][(labels["scope"], labels["window"])].add(labels["key"])
    return found


def ticker_stories(tickers: list[str], per_ticker: int, start: timedelta, prefix: str, topic: str = "Markets"):
    stories = []
    for t, ticker in enumerate(tickers):
        for i in range(per_ticker):
            at = start + timedelta(seconds=(t * 7 + i * 13) % 1800)
            stories.append(scored(f"{prefix}-{ticker}-{i}", at, "negative" if i % 3 == 0 else "neutral",
                                  tickers=(ticker,), topic=topic))
    return stories


async def test_five_thousand_tickers_export_exactly_the_top_n_and_stale_ones_vanish(make_store) -> None:  # noqa: F811
    store = make_store()
    long_tail = [f"T{i:04d}" for i in range(5000)]
    busy = [f"BUSY{i:02d}" for i in range(TOP_N)]
    await store.apply(ticker_stories(long_tail, 1, timedelta(hours=2), "tail"))
    await store.apply(ticker_stories(busy, 4, timedelta(hours=2), "busy"))

    gauges = SentimentGauges(store, top_tickers=TOP_N)
    registry = CollectorRegistry()
    gauges.register(registry)
    began = time.perf_counter()
    snapshot = await gauges.refresh()
    elapsed = time.perf_counter() - began
    assert snapshot.active_tickers == 5000 + TOP_N
    assert elapsed < 5, f"one refresh over 5,050 tickers took {elapsed:.1f} s"

    series = scrape(registry)
    for metric, _, _ in WINDOW_METRICS:
        for window in ("15m", "1h"):
            assert series[metric][("ticker", window)] == set(busy), f"{metric} {window}"
            assert series[metric][("market", window)] == {"all"}
            assert series[metric][("topic", window)] == set(TOPIC_LABELS), "all 20 topics, even without news"
    total = sum(len(keys) for by_scope in series.values() for keys in by_scope.values())
    assert total == len(WINDOW_METRICS) * 2 * (1 + len(TOPIC_LABELS) + TOP_N)

    # Twenty tail tickers suddenly get a lot of news: they enter the top N, twenty busy ones leave it.
    risers = long_tail[:20]
    await store.apply(ticker_stories(risers, 8, timedelta(hours=2, minutes=10), "rise"))
    await gauges.refresh()
    after = scrape(registry)
    exported = after["bearwatch_sentiment_stories"][("ticker", "1h")]
    assert len(exported) == TOP_N
    assert set(risers) <= exported
    assert len(set(busy) - exported) == 20, "the twenty busy tickers that fell out of the top N have no series"
    assert all(after[metric][("ticker", "15m")] == exported for metric, _, _ in WINDOW_METRICS)


async def test_exported_values_are_the_window_statistics(make_store) -> None:  # noqa: F811
    store = make_store()
    stories = [scored(f"v{i}", timedelta(minutes=i), "negative" if i < 3 else "positive", tickers=("ACME",))
               for i in range(10)]
    await store.apply(stories)
    gauges = SentimentGauges(store, top_tickers=5)
    registry = CollectorRegistry()
    gauges.register(registry)
    await gauges.refresh()
    window = await store.window("ticker", "ACME", "1h", samples=False)
    assert window.count > 0

    def value(name: str, window_name: str) -> float:
        labels = {"scope": "ticker", "key": "ACME", "window": window_name}
        found = registry.get_sample_value(name, labels)
        assert found is not None, f"{name} {labels}"
        return found

    assert value("bearwatch_sentiment_stories", "1h") == window.count
    assert value("bearwatch_sentiment_negative_ratio", "1h") == window.negative_share
    assert value("bearwatch_sentiment_mean_score", "1h") == window.mean_score
    assert value("bearwatch_sentiment_novelty_weighted_stories", "1h") == window.novelty_volume
    watermark = await store.watermark()
    assert registry.get_sample_value("bearwatch_sentiment_watermark_timestamp_seconds") == watermark.timestamp()
    for severity in ("critical", "warning", "info"):
        assert registry.get_sample_value("bearwatch_alerts_firing", {"severity": severity}) == 0
