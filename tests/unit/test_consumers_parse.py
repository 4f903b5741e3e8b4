"""Parsing and normalisation of real and broken feeds: readable entries come out, nothing raises, problems are named."""

from __future__ import annotations

import calendar
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from consumers.entries import NotAFeed
from consumers.normalise import EntryContext, normalise_entries
from consumers.parse import parse_body
from consumers.registry import JsonMapping
from consumers.tickers import Company, TickerLinker, Watchlist

FETCHED = datetime(2030, 1, 1, tzinfo=UTC)  # after every corpus date, so no date is clamped as "future"
FEED_URL = "http://example.com/feeds/feed.xml"


def _corpus(shared_data: Path) -> Path:
    return shared_data / "feeds" / "malformed" / "feedparser"


def _context(feed_url: str = FEED_URL, edgar: bool = False, lang: str | None = None) -> EntryContext:
    return EntryContext(source="Test", feed="test", fetched_at=FETCHED, feed_url=feed_url, edgar=edgar, lang=lang)


def test_every_corpus_file_goes_through_parse_and_normalise_without_an_exception(shared_data: Path) -> None:
    files = sorted(path for path in _corpus(shared_data).rglob("*") if path.is_file() and path.suffix != ".tsv")
    assert len(files) >= 120
    outcomes: dict[str, int] = {"stories": 0, "rejected": 0, "not_a_feed": 0}
    for path in files:
        try:
            parsed = parse_body(path.read_bytes(), url=FEED_URL)
        except NotAFeed as exc:
            assert exc.kind in {"not_a_feed", "parse", "empty"} and exc.reason, path
            outcomes["not_a_feed"] += 1
            continue
        built = normalise_entries(parsed.entries, _context(), TickerLinker())
        assert len(built.stories) + sum(built.rejected.values()) == len(parsed.entries), path
        outcomes["stories"] += len(built.stories)
        outcomes["rejected"] += sum(built.rejected.values())
        for story in built.stories:
            assert story.title and "<script" not in story.title.lower(), path
            assert story.url == "" or story.url.startswith(("http://", "https://")), path
    assert outcomes["stories"] > 40 and outcomes["not_a_feed"] > 5


def test_wellformed_corpus_stories_match_what_feedparser_reads(shared_data: Path) -> None:
    checked = 0
    for path in sorted((_corpus(shared_data) / "wellformed").rglob("*.xml")):
        body = path.read_bytes()
        headers = {"content-location": FEED_URL, "content-type": "application/xml"}
        reference = feedparser.parse(body, response_headers=headers)
        if reference.bozo or not reference.entries:
            continue
        built = normalise_entries(parse_body(body, url=FEED_URL).entries, _context(), None)
        with_text = [
            entry for entry in reference.entries if _visible(entry.get("title")) or _visible(entry.get("summary"))
        ]
        assert len(built.stories) == len(with_text), path
        for entry, story in zip(with_text, built.stories, strict=True):
            if entry.get("title_detail", {}).get("type") == "text/plain":
                assert story.title == " ".join(entry.title.split()), path
            link = entry.get("link", "")
            if link.startswith(("http://", "https://")) and urlsplit(link).hostname:
                assert urlsplit(story.url).hostname == urlsplit(link).hostname.lower(), path
            parsed_time = entry.get("published_parsed") or entry.get("updated_parsed")
            if parsed_time and "no_date" not in story.flags:
                assert story.published_at.timestamp() == calendar.timegm(parsed_time), path
            checked += 1
    assert checked >= 25


def _visible(fragment: str | None) -> str:
    return re.sub(r"<[^>]*>", "", fragment or "").strip()


def test_reuters_capture_gives_twenty_clean_stories(shared_data: Path) -> None:
    body = (shared_data / "feeds/realworld/reuters/reuters_businessNews_2019-01-19.xml").read_bytes()
    parsed = parse_body(body, url="http://feeds.reuters.com/reuters/businessNews")
    built = normalise_entries(parsed.entries, _context(lang=parsed.lang), TickerLinker(Watchlist.load()))
    assert parsed.problem is None and len(built.stories) == 20
    first = built.stories[0]
    assert first.title == "Supermarket retailer Casino to sell six stores to rival Leclerc"
    # feedburner's origLink is preferred, and Reuters' feedType/feedName tracking parameters are removed
    assert first.url == (
        "https://www.reuters.com/article/us-casino-m-a-leclerc/"
        "supermarket-retailer-casino-to-sell-six-stores-to-rival-leclerc-idUSKCN1PD07P"
    )
    assert first.published_at == datetime(2019, 1, 19, 8, 47, 23, tzinfo=UTC)
    assert first.lang == "en-us"
    assert all(story.summary and "<" not in story.summary for story in built.stories)
    assert len({story.id for story in built.stories}) == 20


def test_edgar_filings_link_tickers_by_cik(shared_data: Path) -> None:
    body = (shared_data / "feeds/realworld/sec_edgar/edgar_latest_filings_10-K_2016-02-25.xml").read_bytes()
    linker = TickerLinker(Watchlist([Company("NOW", "ServiceNow, Inc.", (), cik=1373715)]))
    parsed = parse_body(body, kind="atom", url="https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent")
    built = normalise_entries(parsed.entries, _context(edgar=True), linker)
    assert len(built.stories) == 40
    servicenow = [story for story in built.stories if "ServiceNow" in story.title]
    assert servicenow and servicenow[0].tickers == ["NOW"]
    assert servicenow[0].url.startswith("http://www.sec.gov/Archives/edgar/data/1373715/")
    assert all(story.tickers == [] for story in built.stories if "ServiceNow" not in story.title)


def test_html_page_is_refused_as_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Oops</title></head><body><p>Login</p></body></html>"
    with pytest.raises(NotAFeed) as caught:
        parse_body(page, content_type="text/html; charset=utf-8", url=FEED_URL)
    assert caught.value.kind == "not_a_feed" and "HTML page" in caught.value.reason


def test_truncated_feed_yields_the_entries_before_the_cut(shared_data: Path) -> None:
    body = (shared_data / "feeds/realworld/reuters/reuters_worldNews_2018-01-30.xml").read_bytes()
    cut = body[: len(body) // 2]
    parsed = parse_body(cut, url=FEED_URL)
    built = normalise_entries(parsed.entries, _context(), None)
    assert parsed.problem_kind == "ill_formed" and "ill-formed" in (parsed.problem or "")
    assert 3 <= len(built.stories) < 20


def test_broken_entity_and_bogus_encoding_are_read_leniently() -> None:
    broken = (
        b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        b"<item><title>AT&T &bogus; cuts guidance</title><link>https://x.example/a</link></item>"
        b"<item><title>Second item</title><link>https://x.example/b</link></item></channel></rss>"
    )
    parsed = parse_body(broken, url=FEED_URL)
    built = normalise_entries(parsed.entries, _context(), None)
    assert parsed.problem is not None and [story.url for story in built.stories][-1] == "https://x.example/b"

    latin = "<?xml version='1.0' encoding='bogus-8'?><rss version='2.0'><channel><item>"
    latin += "<title>Caf\u00e9 shares rise</title><link>https://x.example/c</link></item></channel></rss>"
    latin_body = latin.encode("latin-1")
    parsed = parse_body(latin_body, url=FEED_URL)
    assert parsed.problem_kind == "encoding"
    assert normalise_entries(parsed.entries, _context(), None).stories[0].url == "https://x.example/c"


def test_undeclared_encoding_is_detected(shared_data: Path) -> None:
    body = (_corpus(shared_data) / "illformed/chardet/koi8r.xml").read_bytes()
    parsed = parse_body(body, url=FEED_URL)
    assert parsed.entries[0].title == "\u041a\u0430\u043a \u043f\u0435\u0440\u0435\u0436\u0438\u0442\u044c " \
        "\u043d\u043e\u0432\u043e\u0433\u043e\u0434\u043d\u044e\u044e \u043d\u043e\u0447\u044c"
    assert "koi8" in (parsed.problem or "")


def test_entries_missing_fields_are_counted_not_guessed() -> None:
    body = (
        b"<rss version='2.0'><channel><item><link>https://x.example/only-link</link></item>"
        b"<item><description>&lt;p&gt;Stocks fell sharply. Bonds rallied.&lt;/p&gt;</description></item>"
        b"<item><title>Fine</title></item></channel></rss>"
    )
    built = normalise_entries(parse_body(body, url=FEED_URL).entries, _context(), None)
    assert built.rejected == {"no_text": 1}
    titles = {story.title: story.flags for story in built.stories}
    assert titles == {"Stocks fell sharply.": ["no_title", "no_date"], "Fine": ["no_date"]}


def test_json_api_through_a_mapping() -> None:
    document = {
        "data": {"articles": [
            {"headline": "Nvidia beats estimates", "href": "https://n.example/1?utm_medium=x", "ts": "20240501T120000",
             "tags": [{"symbol": "NVDA"}], "lede": "<b>Chips</b> &amp; more"},
            {"headline": "", "href": ""},
            "not an object",
        ]}
    }
    mapping = JsonMapping(
        items="data.articles", title="headline", link="href", date="ts", summary="lede", id=None,
        tickers="tags[].symbol",
    )
    parsed = parse_body(json.dumps(document).encode(), kind="json-api", mapping=mapping, url=FEED_URL)
    built = normalise_entries(parsed.entries, _context(), None)
    assert parsed.problem_kind == "bad_items" and built.rejected == {"no_text": 1}
    story = built.stories[0]
    assert (story.title, story.url, story.summary, story.tickers) == (
        "Nvidia beats estimates", "https://n.example/1", "Chips & more", ["NVDA"]
    )
    assert story.published_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_json_that_is_not_json_is_not_a_feed() -> None:
    with pytest.raises(NotAFeed, match="not valid JSON"):
        parse_body(b'{"items": [', content_type="application/json", url=FEED_URL)
