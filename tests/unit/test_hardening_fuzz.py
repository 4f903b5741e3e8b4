"""Fuzzing feed parsing (issue 15): whatever bytes a server sends, parsing and normalising either give entries or
raise :class:`NotAFeed` with a one-line reason; never another exception, never a story with control characters.

Inputs are built from feed-shaped fragments (XML prologues, DOCTYPEs with entities, RSS/Atom/JSON skeletons,
odd encodings, deep nesting) mixed with arbitrary bytes, so the search reaches the parsers' inner paths.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.entries import NotAFeed
from consumers.normalise import EntryContext, normalise_entries
from consumers.parse import parse_body
from consumers.plaintext import CONTROL

CONTEXT = EntryContext(source="fuzz", feed="fuzz", fetched_at=datetime(2026, 1, 1, tzinfo=UTC))

_FRAGMENTS = [
    b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="iso-8859-1"?>', b"<!DOCTYPE rss [",
    b'<!ENTITY a "aaaaaaaaaa">', b"]>", b"&a;", b"<rss version='2.0'>", b"<channel>", b"<item>", b"<title>",
    b"</title>", b"<link>http://e.com/x</link>", b"<pubDate>Mon, 01 Jan 1601 00:00:00 GMT</pubDate>", b"</item>",
    b"</channel></rss>", b'<feed xmlns="http://www.w3.org/2005/Atom">', b"<entry><title>t</title></entry>",
    b"</feed>", b"<![CDATA[", b"]]>", b"\x00", b"\xff\xfe", b"\xe9", b"<!--", b"-->", b"<script>", b"&#0;",
    b"&#x110000;", b'"', b"'", b"[", b"{", b'{"items": [', b'{"title": "t", "url": true}', b"]}", b"[" * 50,
]


@st.composite
def feedish(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=40)), max_size=40))
    return b"".join(parts)


@st.composite
def jsonish(draw: st.DrawFn) -> bytes:
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
    value = st.recursive(leaf, lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(
            ["items", "title", "url", "link", "date", "published_at", "summary", "id", "tickers", "data"]),
            inner, max_size=6)), max_leaves=40)
    return json.dumps(draw(value)).encode()


def _check(body: bytes, content_type: str) -> None:
    try:
        parsed = parse_body(body, content_type=content_type, url="http://fuzz.example/feed")
    except NotAFeed as exc:
        assert exc.kind and "\n" not in exc.kind
        return
    built = normalise_entries(parsed.entries, CONTEXT, None)
    for story in built.stories:
        assert not CONTROL.search(story.title), story.title
        assert story.url == "" or story.url.startswith(("http://", "https://"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=feedish(), content_type=st.sampled_from(["", "application/rss+xml", "text/html", "application/json"]))
def test_feed_shaped_bytes_never_crash_the_reader(body: bytes, content_type: str) -> None:
    _check(body, content_type)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=jsonish())
def test_json_documents_never_crash_the_reader(body: bytes) -> None:
    _check(body, "application/json")
