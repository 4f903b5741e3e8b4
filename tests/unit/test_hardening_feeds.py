"""Hostile and sloppy feed bodies (issue 15, items 3, 9, 10, 12): bounded memory, one-line problems, clean text."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from consumers.dates import BAD_DATE, NO_DATE
from consumers.entries import NotAFeed, RawEntry
from consumers.normalise import EntryContext, normalise_entries_async, normalise_entry
from consumers.parse import defuse_xml, parse_body
from tests.support.hostile_server import billion_laughs_rss, quadratic_blowup_rss

MiB = 1 << 20
CONTEXT = EntryContext(source="S", feed="f", fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
                       future_tolerance=timedelta(minutes=15))


def _peak(call):  # noqa: ANN001, ANN202 - tiny helper
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("body", [quadratic_blowup_rss(), billion_laughs_rss()], ids=["quadratic", "laughs"])
def test_entity_bombs_are_not_expanded(body: bytes) -> None:
    parsed, peak = _peak(lambda: parse_body(body, content_type="application/rss+xml"))
    assert peak < 64 * MiB, f"peak {peak / MiB:.0f} MiB"
    assert parsed.problem and "internal subset" in parsed.problem
    text = " ".join(entry.title + entry.summary for entry in parsed.entries)
    assert len(text) < 200_000 and "lollol" not in text and "x" * 1000 not in text


def test_entities_hidden_in_utf16_are_refused() -> None:
    body = quadratic_blowup_rss(1000, 10).decode().replace('<?xml version="1.0"?>', "").encode("utf-16")
    with pytest.raises(NotAFeed) as caught:
        parse_body(body)
    assert caught.value.kind == "unsafe_xml" and "\n" not in caught.value.reason


def test_an_external_dtd_reference_is_left_alone() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel><title>t</title>'
            b"<item><title>Old school</title><link>http://e.com/1</link></item></channel></rss>")
    assert defuse_xml(body) == (body, None)
    assert [entry.title for entry in parse_body(body).entries] == ["Old school"]


def test_json_nested_ten_thousand_deep_is_one_line() -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_body(b"[" * 10_000 + b"]" * 10_000)
    assert "nested too deeply" in caught.value.reason


def test_json_link_that_is_not_a_string_is_no_link() -> None:
    body = json.dumps({"items": [{"title": "Bank fails", "url": True}, {"title": "Bank two", "url": 5}]}).encode()
    entries = parse_body(body, url="http://host/feed.json").entries
    assert [entry.link for entry in entries] == ["", ""]
    story = normalise_entry(entries[0], CONTEXT)
    assert "True" not in story.url


def test_undeclared_latin1_is_read_as_windows_1252() -> None:
    titles = ["Zürich insurer cuts jobs", "Nestlé profit beats estimates", "Börse fällt", "Señal débil",
              "Crédit Agricole à la hausse", "Bank of England holds rates", "Dow falls 2% on jobs data", "Oil slips",
              "Fed signals pause", "Euro zone PMI beats", "Apple shares rise", "Tesla cuts prices", "Gold hits record",
              "Yen weakens", "Stocks mixed"]
    import random

    random.Random(1).shuffle(titles)
    body = ("<rss version='2.0'><channel><title>t</title>" + "".join(
        f"<item><title>{t}</title><link>http://x/{i}</link></item>" for i, t in enumerate(titles))
        + "</channel></rss>").encode("latin-1")
    parsed = parse_body(body, content_type="application/rss+xml")
    assert sorted(entry.title for entry in parsed.entries) == sorted(titles)


def test_nul_and_control_characters_never_reach_a_title() -> None:
    for is_html in (True, False):
        entry = RawEntry(title="Bank\x00 fails\x07 today\x9b", summary="", link="http://e.com/1", guid="",
                         title_is_html=is_html)
        assert normalise_entry(entry, CONTEXT).title == "Bank fails today"


@pytest.mark.parametrize("text", ["Mon, 01 Jan 1601 00:00:00 GMT", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_implausibly_old_dates_are_flagged(text: str) -> None:
    story = normalise_entry(RawEntry(title="T", summary="", link="http://e.com/1", guid="", date_text=text), CONTEXT)
    assert story.published_at == CONTEXT.fetched_at and {NO_DATE, BAD_DATE} <= set(story.flags)


async def test_a_27000_item_feed_yields_to_the_event_loop_while_it_is_normalised() -> None:
    entries = [RawEntry(title=f"Story {n} about banks", summary="<p>text</p>", link=f"http://e.com/{n}", guid="")
               for n in range(27_000)]
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    built = await normalise_entries_async(entries, CONTEXT, None)
    done.set()
    await task
    assert len(built.stories) == 27_000
    assert ticks >= 27_000 // 200 - 1, f"the loop ran only {ticks} times while 27,000 entries were normalised"


def test_millions_of_unclosed_tags_are_refused_before_the_lenient_parser() -> None:
    body = b"<rss><channel><item><title>" + b"<a>" * 1_500_000
    with pytest.raises(NotAFeed) as caught:
        parse_body(body)
    assert caught.value.kind == "unsafe_xml" and "never closed" in caught.value.reason
