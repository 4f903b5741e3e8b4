"""Reading historical files for replay and backtest: column mapping, odd and broken dates, every format, merges.

No broker or Redis here: this is the part of the replay that turns a file into the Stories the live consumers
would have produced, through the same ``normalise_entry`` path.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consumers.entries import RawEntry
from consumers.normalise import EntryContext, normalise_entry
from consumers.replay.columns import MappingError, detect_columns, parse_map_option
from consumers.replay.eventtime import DAY_ONLY, EventTimeReader, parse_zone
from consumers.replay.readers import ReadError, ReadOptions, RowError, read_rows
from consumers.replay.source import read_stories
from consumers.tickers import TickerLinker, Watchlist

TERRA = "headlines/2022-05-02_to_2022-05-20_TerraLuna.csv"
REUTERS = "headlines/reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv"
LINKER = TickerLinker(Watchlist.load())


def head_of(source: Path, out: Path, rows: int) -> Path:
    with source.open(encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(rows + 1)]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def test_columns_of_both_shared_files_are_detected(shared_data: Path) -> None:
    for name, expected in (
        (TERRA, {"time": "date_published", "title": "title", "summary": "description", "link": "link",
                 "source": "source_feed", "ticker": None, "lang": "language"}),
        (REUTERS, {"time": "date_yyyymmdd", "title": "title", "summary": "summary", "link": None, "source": None,
                   "ticker": "ticker"}),
    ):
        with (shared_data / name).open(encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        mapping = detect_columns(header).as_dict()
        assert {k: mapping[k] for k in expected} == expected, name


def test_explicit_mapping_overrides_detection_and_names_what_is_wrong() -> None:
    columns = ["When", "Headline", "Body", "URL", "stock"]
    mapping = detect_columns(columns, parse_map_option("time=When,summary=Body,ticker="))
    assert (mapping.time, mapping.title, mapping.summary, mapping.link, mapping.ticker) == (
        "When", "Headline", "Body", "URL", None)
    with pytest.raises(MappingError, match="no such column; the file has When, Headline"):
        detect_columns(columns, parse_map_option("time=published"))
    with pytest.raises(MappingError, match="no time column"):
        detect_columns(["Headline", "URL"])
    with pytest.raises(MappingError, match="field=column"):
        parse_map_option("when=When")


MIXED = [
    ("2022-05-02 00:03:57+00:00", "ISO with zone", datetime(2022, 5, 2, 0, 3, 57, tzinfo=UTC), False),
    ("2022-05-02 02:47:41.123456+02:00", "microseconds and offset", datetime(2022, 5, 2, 0, 47, 41, 123456,
                                                                             tzinfo=UTC), False),
    ("2022-05-02T10:00:00Z", "Z suffix", datetime(2022, 5, 2, 10, tzinfo=UTC), False),
    ("2022-05-02 10:00:00", "naive (UTC)", datetime(2022, 5, 2, 10, tzinfo=UTC), False),
    ("Mon, 02 May 2022 10:00:00 GMT", "RFC 822", datetime(2022, 5, 2, 10, tzinfo=UTC), False),
    ("1651485600", "epoch seconds", datetime(2022, 5, 2, 10, tzinfo=UTC), False),
    ("May 2, 2022 10:00 AM", "US long form", datetime(2022, 5, 2, 10, tzinfo=UTC), False),
    ("20110706", "Reuters day", datetime(2011, 7, 6, 12, tzinfo=UTC), True),
    ("2011-07-06", "ISO day", datetime(2011, 7, 6, 12, tzinfo=UTC), True),
    ("July 6, 2011", "long day", datetime(2011, 7, 6, 12, tzinfo=UTC), True),
]
BROKEN = [
    ("2022-13-45 10:00", "bad_date"),      # a lenient ISO reader would roll this over into 2023
    ("yesterday", "bad_date"),
    ("02/05/2022 10:00", "bad_date"),      # day or month first? refused rather than guessed
    ("1899-01-01", "bad_date"),
    ("", "no_date"),
]


def test_mixed_and_broken_dates_are_normalised_or_reported_per_row_never_crash(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["published", "headline", "summary", "url"])
        for n, (text, label, _, _) in enumerate(MIXED):
            writer.writerow([text, f"Story {n}: {label}", "", f"https://example.com/{n}"])
        for n, (text, _) in enumerate(BROKEN):
            writer.writerow([text, f"Broken {n}", "", f"https://example.com/broken/{n}"])
        writer.writerow(["2022-05-03 09:00:00", "", "", "https://example.com/empty"])  # no text at all

    stories, report = read_stories(path, ReadOptions(), LINKER)

    assert report.rows == len(MIXED) + len(BROKEN) + 1
    got = {story.title.split(":")[0]: story for story in stories}
    for n, (_, _, expected, day_only) in enumerate(MIXED):
        story = got[f"Story {n}"]
        assert story.published_at == expected, MIXED[n]
        assert story.fetched_at == story.published_at  # event time as fetch time: nothing clamped
        assert (DAY_ONLY in story.flags) is day_only
    assert report.rejected == {"bad_date": 4, "no_date": 1, "no_text": 1}
    assert [(e.number, e.reason) for e in report.errors] == [
        (len(MIXED) + 1 + n, reason) for n, (_, reason) in enumerate(BROKEN)] + [(report.rows, "no_text")]
    assert [s.published_at for s in stories] == sorted(s.published_at for s in stories)


def test_day_time_and_zone_options() -> None:
    reader = EventTimeReader(day_time=time(9, 30), tz=parse_zone("Europe/Warsaw"))
    assert reader.read("20110706") == (datetime(2011, 7, 6, 9, 30, tzinfo=UTC), True)
    assert reader.read("2022-05-02 10:00:00") == (datetime(2022, 5, 2, 8, 0, tzinfo=UTC), False)  # CEST = +2
    assert reader.read("2022-05-02 10:00:00+00:00")[0] == datetime(2022, 5, 2, 10, tzinfo=UTC)
    assert EventTimeReader(date_format="%d/%m/%Y").read("02/05/2022") == (datetime(2022, 5, 2, 12, tzinfo=UTC), True)


def test_a_file_row_becomes_the_story_a_live_feed_entry_would(shared_data: Path, tmp_path: Path) -> None:
    path = head_of(shared_data / TERRA, tmp_path / "terra.csv", 20)
    stories, _ = read_stories(path, ReadOptions(), LINKER)
    with path.open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    live = normalise_entry(
        RawEntry(title=first["title"], summary=first["description"], link=first["link"],
                 date_text=first["date_published"]),
        EntryContext(source="feeds.bbci.co.uk", feed=first["source_feed"], fetched_at=datetime.now(UTC)), LINKER)
    replayed = next(story for story in stories if story.id == live.id)
    assert (replayed.url, replayed.title, replayed.summary, replayed.published_at, replayed.source) == (
        live.url, live.title, live.summary, live.published_at, live.source)
    assert "at_medium" in live.url  # only tracking parameters the live normaliser knows are stripped


def test_an_article_repeated_under_several_tickers_is_one_story(shared_data: Path, tmp_path: Path) -> None:
    path = head_of(shared_data / REUTERS, tmp_path / "reuters.csv", 400)
    stories, report = read_stories(path, ReadOptions(default_source="Reuters"), LINKER)
    assert report.rows == 400 and report.merged > 0 and report.stories == 400 - report.merged
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    title = next(r["title"] for r in rows if sum(x["title"] == r["title"] for x in rows) > 1)
    tickers = {r["ticker"] for r in rows if r["title"] == title}
    merged = [s for s in stories if s.title == title.replace("  ", " ")]
    assert len(merged) >= 1 and tickers <= {t for s in merged for t in s.tickers}
    assert all(DAY_ONLY in s.flags and s.published_at.time() == time(12, 0) for s in stories)


def test_jsonl_parquet_and_saved_rss_read_through_the_same_path(shared_data: Path, tmp_path: Path) -> None:
    records = [{"published_at": "2024-03-01T09:00:00Z", "headline": "Acme shares fall", "url": "https://a.example/1",
                "symbols": ["ACME", "XYZ"]},
               {"published_at": "2024-03-01T09:05:00Z", "headline": "Acme recovers", "url": "https://a.example/2"}]
    jsonl = tmp_path / "news.jsonl"
    jsonl.write_text(json.dumps(records[0]) + "\n{not json\n" + json.dumps(records[1]) + "\n", encoding="utf-8")
    items = list(read_rows(jsonl))
    assert [type(i).__name__ for i in items] == ["ReplayRow", "RowError", "ReplayRow"]
    assert isinstance(items[1], RowError) and items[1].number == 2 and items[1].reason == "unreadable"
    assert items[0].entry.tickers == ["ACME", "XYZ"]  # type: ignore[union-attr]

    parquet = tmp_path / "news.parquet"
    pq.write_table(pa.table({
        "timestamp": pa.array([datetime(2024, 3, 1, 9, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")),
        "title": ["Acme shares fall", "No time"], "link": ["https://a.example/1", "https://a.example/3"]}), parquet)
    stories, report = read_stories(parquet, ReadOptions(), LINKER)
    assert [s.published_at for s in stories] == [datetime(2024, 3, 1, 9, tzinfo=UTC)]
    assert report.rejected == {"no_date": 1}
    from_jsonl, _ = read_stories(jsonl, ReadOptions(), LINKER)
    assert stories[0].id == from_jsonl[0].id  # same canonical URL, same id, whatever the format

    feed = shared_data / "feeds/realworld/reuters/reuters_businessNews_2019-01-19.xml"
    stories, report = read_stories(feed, ReadOptions(default_source="Reuters"), LINKER)
    assert report.stories > 5 and report.rejected_total == 0
    assert all(s.source == "Reuters" and s.published_at.year == 2019 for s in stories)

    (tmp_path / "news.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ReadError, match="cannot tell the format"):
        list(read_rows(tmp_path / "news.txt"))


def test_replay_and_backtest_commands_refuse_bad_flags_with_one_clear_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from monitor.shell.cli import app

    data = tmp_path / "news.csv"
    data.write_text("published,title\n2024-03-01T09:00:00Z,Acme shares fall\n", encoding="utf-8")
    runner = CliRunner()
    for args, message in (
        (["replay", str(data), "--day-time", "25:00"], "--day-time must be HH:MM"),
        (["replay", str(data), "--run-id", "no spaces please"], "run id 'no spaces please' must be"),
        (["backtest", str(data), "--map", "when=published"], "--map expects field=column"),
        (["backtest", str(data), "--tz", "Mars/Olympus"], "unknown time zone"),
        (["backtest", str(data), "--from", "someday"], "--from: unreadable date"),
        (["backtest", str(tmp_path / "missing.csv")], "does not exist"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
