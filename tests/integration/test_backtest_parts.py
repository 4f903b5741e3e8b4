"""The backtest's own parts: its in-memory bucket arrays (identical to those read from Redis), the per-minute index,
and the report card's scoring of alerts against known events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import redis.asyncio as aioredis

from alerts.reader import SeriesReader
from alerts.series import series_from_stories
from monitor.ground.contracts import Alert, ModelInfo, ScoredStory, SentimentScore, TopicScore, alert_fingerprint
from monitor.history.events import Event, EventsError, load_events, score_events
from monitor.history.index import SentimentIndex
from monitor.stages.windows import WindowStore
from monitor.stages.windows.writer import scope_keys

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def scored(n: int, at: datetime, label: str = "negative", tickers: tuple[str, ...] = (), novelty: float = 1.0,
           topic: str = "Markets") -> ScoredStory:
    score = {"negative": -0.8, "neutral": 0.05, "positive": 0.7}[label]
    return ScoredStory(
        id=f"s{n}", source="wire", title=f"Headline {n}", url=f"https://example.com/{n}", published_at=at,
        fetched_at=at, tickers=list(tickers), novelty=novelty, topic=TopicScore(label=topic, p=0.9),
        sentiment=SentimentScore(label=label, score=score, p_pos=0.1, p_neu=0.1, p_neg=0.8),
        model=ModelInfo(name="m", version="v"),
    )


async def test_in_memory_arrays_equal_the_arrays_the_live_detector_reads_from_redis(
    redis_client: aioredis.Redis, unique: str
) -> None:
    """The backtest builds bucket arrays from stories; the live detector reads them from the Redis windows: the
    same integers, whatever the range asked for and however the reads are cached."""
    rng = random.Random(3)
    stories = sorted((scored(n, T0 + timedelta(seconds=rng.randrange(0, 30 * 3600)),
                             rng.choice(["negative", "neutral", "positive"]), tuple(rng.sample(["A", "B"], 1)),
                             rng.choice([1.0, 0.5, 1 / 3])) for n in range(400)), key=lambda s: s.published_at)
    store = WindowStore(redis_client, f"arrays{unique}")
    reader = SeriesReader(redis_client, f"arrays{unique}", 60)
    memory = series_from_stories(stories, scope_keys, 60)
    first = int(T0.timestamp())
    for part in range(0, 400, 80):  # apply in event order, reading after each part like the detector does
        await store.apply(stories[part:part + 80])
        end = (int(stories[min(part + 79, 399)].published_at.timestamp()) - 300) // 60 * 60
        for scope, key in (("market", "all"), ("ticker", "A"), ("ticker", "B"), ("topic", "Markets")):
            live = (await reader.read(scope, [key], hours_from=first - 7200, minutes_from=first, end=end))[key]
            whole = memory[(scope, key)]
            probes = np.arange(first, end + 1, 420, dtype=np.int64)
            for span in (900, 3600, 6 * 3600):
                assert np.array_equal(live.total(probes - span, probes), whole.total(probes - span, probes))
            hours = np.arange(first // 3600 * 3600, end // 3600 * 3600, 3600, dtype=np.int64)
            assert np.array_equal(live.hours.total(hours, hours + 3600), whole.hours.total(hours, hours + 3600))


def test_index_counts_each_minute_per_market_topic_and_ticker(tmp_path: Path) -> None:
    index = SentimentIndex()
    index.add([scored(1, T0, "negative", ("AAPL",)), scored(2, T0 + timedelta(seconds=30), "positive", ("AAPL",)),
               scored(3, T0 + timedelta(minutes=1), "negative", novelty=0.5)])
    rows = {(r["minute"], r["scope"], r["key"]): r for r in index.rows()}
    first = rows[(T0, "market", "all")]
    assert (first["count"], first["negative"], first["positive"], first["negative_share"]) == (2, 1, 1, 0.5)
    assert rows[(T0, "ticker", "AAPL")]["count"] == 2
    second = rows[(T0 + timedelta(minutes=1), "market", "all")]
    assert (second["novelty_volume"], second["weighted_negative_share"]) == (0.5, 1.0)
    assert all(scope != "source" for _, scope, _ in rows)
    index.write(tmp_path / "i.parquet", tmp_path / "i.csv")
    table = pq.read_table(tmp_path / "i.parquet")
    assert table.num_rows == len(rows) and table.schema.field("minute").type.tz == "UTC"
    assert (tmp_path / "i.csv").read_text().splitlines()[0].startswith("minute,scope,key,count")
    bins = index.market_bins(3600)
    assert [(b.count, b.negative) for b in bins] == [(3, 2)]


def alert(rule: str, key: str, at: datetime, status: str = "firing", scope: str = "ticker",
          repeat: bool = False) -> Alert:
    return Alert(fingerprint=alert_fingerprint(rule, scope, key), status=status, rule=rule, scope=scope,  # type: ignore[arg-type]
                 key=key, starts_at=at, value=0.7, annotations={"repeat": "true"} if repeat else {})


def test_precision_recall_and_lead_time_follow_the_documented_matching_rule(tmp_path: Path) -> None:
    event_time = datetime(2022, 5, 9, 12, 0, tzinfo=UTC)
    alerts = [
        alert("burst", "LUNA", event_time - timedelta(hours=3)),                   # matches event 1, 3 h early
        alert("burst", "LUNA", event_time - timedelta(hours=3), "resolved"),       # not an episode
        alert("burst", "LUNA", event_time + timedelta(hours=1), repeat=True),      # repeat: not an episode
        alert("shift", "all", event_time + timedelta(hours=1), scope="market"),   # matches event 2 (the day)
        alert("burst", "AAPL", event_time),                                        # no event for AAPL
        alert("burst", "luna", event_time - timedelta(days=3)),                    # too early: a false alarm
    ]
    path = tmp_path / "events.csv"
    path.write_text("time,key,label\n2022-05-09 12:00,LUNA,depeg\n2022-05-09,market,sell-off\n"
                    "2022-05-12 08:00,TSLA,nothing fired\n", encoding="utf-8")
    events = load_events(path)
    day = datetime(2022, 5, 9, tzinfo=UTC)
    assert events[0] == Event(day, "market", "sell-off", "market", day + timedelta(days=1, seconds=-1))
    scores = score_events(alerts, events, first=day - timedelta(days=7), last=day + timedelta(days=7))
    assert (scores.episodes, scores.matched_episodes) == (4, 2)
    assert scores.precision == 0.5 and scores.recall == 2 / 3
    assert [o.lead for o in scores.outcomes] == [timedelta(hours=-13), timedelta(hours=3), None]
    assert scores.median_lead == timedelta(hours=-5)
    # AAPL fired inside an event's window (not a false alarm, not a match); luna three days early is one
    assert [a.key for a in scores.false_alarms] == ["luna"]
    assert 1.5 < scores.calm_weeks < 2.0 and scores.false_alarms_per_week == 1 / scores.calm_weeks


def test_report_card_columns_date_ranges_scopes_and_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("date,end,scope,key,label\n2011-08-04,2011-08-08,topic,Financials,downgrade\n"
                    "2011-08-10 15:30,,,,anything\n", encoding="utf-8")
    first, second = load_events(path)
    assert (first.scope, first.key, first.end) == ("topic", "Financials", datetime(2011, 8, 8, 23, 59, 59, tzinfo=UTC))
    assert (second.scope, second.key, second.until) == (None, None, None)
    topic = alert("surge", "Financials", datetime(2011, 8, 8, 12, 1, tzinfo=UTC), scope="topic")
    ticker = alert("burst", "Financials", datetime(2011, 8, 8, 12, 1, tzinfo=UTC))
    any_alert = alert("burst", "BAC", datetime(2011, 8, 10, 14, 0, tzinfo=UTC))
    scores = score_events([topic, ticker, any_alert], [first, second])
    assert [o.alerts for o in scores.outcomes] == [[topic], [any_alert]]
    assert scores.outcomes[1].lead == timedelta(hours=1, minutes=30)
    for text, words in (("label\nx\n", "no date column"), ("date,label\n2011-13-40,x\n", "row 1: date"),
                        ("date,scope,label\n2011-08-04,galaxy,x\n", "scope 'galaxy'"),
                        ("date,end\n2011-08-04,2011-08-01\n", "end is before the start")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(EventsError, match=words):
            load_events(path)


def test_when_nothing_fired_the_report_says_how_close_it_came() -> None:
    from alerts.rules import parse_rules
    from monitor.history.engine import Closeness
    from monitor.history.report import closeness_words

    rule = parse_rules('[[rule]]\nname = "s"\nscope = "topic"\nsurprise_above = 4\nmin_negative = 5\n'
                       "min_volume = 10\n")[0]
    near = Closeness(keys=3, evaluations=90, max_surprise=2.345, max_surprise_key="Macro",
                     max_surprise_at=int(datetime(2022, 5, 6, 11, tzinfo=UTC).timestamp()), max_volume=6.5,
                     max_negative=2.0, without_history=12,
                     peaks=[(int(datetime(2022, 5, 6, 11, tzinfo=UTC).timestamp()), "Macro", 2.345),
                            (int(datetime(2022, 5, 1, tzinfo=UTC).timestamp()), "Macro", 3.9)])
    words = closeness_words(near, rule)
    assert "max surprise 2.35 of 4 needed (Macro, 2022-05-06 11:00)" in words
    assert "at most 2.0 negative stories in a window (5 needed)" in words
    assert "volume short: at most 6.5 stories in a window (10 needed)" in words
    assert "12 evaluations had no baseline history yet" in words
    assert closeness_words(Closeness(), rule) == "no topic keys in this data"
    event = Event(datetime(2022, 5, 6, tzinfo=UTC), None, "x", "topic", datetime(2022, 5, 6, 23, 59, tzinfo=UTC))
    scores = score_events([], [event], rules=[rule], closeness={"s": near})
    assert scores.outcomes[0].closest == (2.345, 4.0, "s", "topic", "Macro", datetime(2022, 5, 6, 11, tzinfo=UTC))
    assert scores.to_dict()["outcomes"][0]["closest"]["surprise"] == 2.345
