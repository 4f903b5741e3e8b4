"""Normalisation rules: plain text, canonical URLs, stable ids, event time and language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.entries import RawEntry
from consumers.normalise import EntryContext, EntryError, normalise_entry, story_id
from consumers.plaintext import html_to_text
from consumers.urls import canonical_url

FETCHED = datetime(2024, 5, 1, 12, tzinfo=UTC)
CONTEXT = EntryContext(source="Wire", feed="wire-top", fetched_at=FETCHED, feed_url="https://wire.example/feeds/top.xml")


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>Stocks <b>fall</b></p><p>Bonds rise</p>", "Stocks fall Bonds rise"),
        ("AT&amp;T shares &#8212; up 3%", "AT&T shares \u2014 up 3%"),
        ("Double &amp;amp; escaped &amp;quot;quotes&amp;quot;", 'Double & escaped "quotes"'),
        ("<script>alert(1)</script>Safe <style>p{}</style>text", "Safe text"),
        ("  ragged\n\twhitespace  ", "ragged whitespace"),
        ("<p>Unclosed <b>tags <i>everywhere", "Unclosed tags everywhere"),
        ("", ""),
    ],
)
def test_html_to_plain_text(fragment: str, text: str) -> None:
    assert html_to_text(fragment) == text


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        ("https://News.Example.com:443/a/b?utm_source=rss&utm_medium=feed&id=7#top", "https://news.example.com/a/b?id=7"),
        ("http://x.example/p?b=2&a=1&fbclid=abc&gclid=1", "http://x.example/p?a=1&b=2"),
        ("/markets/story-1?feedType=RSS&feedName=businessNews", "https://wire.example/markets/story-1"),
        ("story-2", "https://wire.example/feeds/story-2"),
        ("mailto:desk@wire.example", ""),
        ("javascript:alert(1)", ""),
        ("", ""),
    ],
)
def test_canonical_url(link: str, canonical: str) -> None:
    assert canonical_url(link, CONTEXT.feed_url) == canonical


def test_story_id_prefers_url_then_guid_then_text() -> None:
    by_url = story_id("https://a.example/1", "guid-1", "Wire", "Title", "Mon, 01 Jan 2024")
    assert by_url == story_id("https://a.example/1", "other-guid", "Other", "Other title", None)
    by_guid = story_id("", "guid-1", "Wire", "Title", None)
    assert by_guid == story_id("", "guid-1", "Wire", "Changed title", "x") != story_id("", "guid-1", "Else", "T", None)
    by_text = story_id("", "", "Wire", "Title", "Mon, 01 Jan 2024")
    assert by_text != story_id("", "", "Wire", "Title", "Tue, 02 Jan 2024")
    assert len({by_url, by_guid, by_text}) == 3 and all(len(value) == 32 for value in (by_url, by_guid, by_text))


def test_same_article_from_two_feeds_gets_one_id() -> None:
    one = normalise_entry(RawEntry(title="A", link="https://a.example/x?utm_campaign=1"), CONTEXT)
    other_context = EntryContext(source="Other", feed="other", fetched_at=FETCHED)
    two = normalise_entry(RawEntry(title="A (updated)", link="https://A.example/x"), other_context)
    assert one.id == two.id


def test_undated_entry_keeps_its_id_across_polls() -> None:
    entry = RawEntry(title="Undated headline", guid="")
    first = normalise_entry(entry, CONTEXT)
    next_day = EntryContext(source="Wire", feed="wire-top", fetched_at=datetime(2024, 5, 2, tzinfo=UTC))
    later = normalise_entry(entry, next_day)
    assert first.id == later.id and first.flags == ["no_date"] and first.published_at == FETCHED


def test_event_time_language_and_flags() -> None:
    story = normalise_entry(
        RawEntry(title="Fed holds rates", date_text="Wed, 01 May 2024 08:00:00 -0400", lang="EN_us"), CONTEXT
    )
    assert story.published_at == datetime(2024, 5, 1, 12, tzinfo=UTC) and story.lang == "en-us" and story.flags == []
    future = normalise_entry(RawEntry(title="From the future", date_text="2030-01-01T00:00:00Z"), CONTEXT)
    assert future.published_at == FETCHED and future.flags == ["future_date_clamped"]
    garbled = normalise_entry(RawEntry(title="Garbled", date_text="sometime soon", lang="not a language!"), CONTEXT)
    assert garbled.flags == ["no_date", "bad_date"] and garbled.lang is None


def test_plain_text_titles_keep_angle_brackets() -> None:
    story = normalise_entry(RawEntry(title="Ratio <2% & rising", title_is_html=False), CONTEXT)
    assert story.title == "Ratio <2% & rising"


def test_entry_without_any_text_is_an_error() -> None:
    with pytest.raises(EntryError) as caught:
        normalise_entry(RawEntry(link="https://a.example/empty", summary="<img src='x.png'>"), CONTEXT)
    assert caught.value.reason == "no_text"
