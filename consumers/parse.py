"""Turn a response body into entries: RSS/Atom through feedparser, JSON through the mapping reader.

feedparser already copes with most broken feeds (ill-formed XML, wrong or unknown encodings, undefined
entities): it sets ``bozo`` and still hands back what it could read. That is the behaviour wanted here, readable
entries go out and the problem is reported once, so this module only classifies the problem, refuses bodies that
hold no feed at all (HTML pages, garbage) with :class:`NotAFeed`, and keeps feedparser, which is CPU-bound,
off the event loop for large bodies (:func:`parse_body_async`).
"""

from __future__ import annotations

import asyncio
import re
import xml.sax
from typing import Any

import charset_normalizer
import feedparser

from consumers.entries import NotAFeed, ParsedFeed, RawEntry
from consumers.jsonapi import parse_json_feed
from consumers.registry import FeedKind, JsonMapping

_HTML_MARKERS = (b"<!doctype html", b"<html")
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf", b"<channel")
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_CHAOS_SLACK = 1.0
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")


def looks_like_json(body: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


def parse_body(
    body: bytes,
    *,
    kind: FeedKind = "auto",
    content_type: str = "",
    url: str = "",
    mapping: JsonMapping | None = None,
    content_language: str | None = None,
) -> ParsedFeed:
    """Entries of one response body; raises :class:`NotAFeed` when there is nothing to read."""
    if not body.strip():
        raise NotAFeed("empty", "the response body is empty")
    if kind == "json-api" or (kind == "auto" and looks_like_json(body, content_type)):
        parsed = parse_json_feed(body, mapping, base=url)
    else:
        parsed = _parse_xml(body, content_type, url, content_language)
    if parsed.lang is None and content_language:
        parsed.lang = content_language.split(",")[0].strip() or None
    return parsed


async def parse_body_async(body: bytes, *, thread_above_bytes: int = 65_536, **options: Any) -> ParsedFeed:
    """:func:`parse_body`, in a worker thread when the body is large enough to stall the event loop."""
    if len(body) > thread_above_bytes:
        return await asyncio.to_thread(parse_body, body, **options)
    return parse_body(body, **options)


_DOCTYPE = re.compile(rb"<!doctype", re.I)
_ENTITY = re.compile(rb"<!entity", re.I)
_WIDE_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def defuse_xml(body: bytes) -> tuple[bytes, str | None]:
    """``body`` without a DOCTYPE internal subset, and a note when one was removed.

    expat refuses entity bombs, but feedparser then falls back to its lenient parser, which expands them (a
    110 KB body grew to 2.9 GB). A news feed has no business declaring entities, so the internal subset is cut
    out before any parser sees it; its entities stay unexpanded text. A declaration that cannot be delimited
    safely, or one hidden in a UTF-16/32 body, makes the body refused (:class:`NotAFeed`).
    """
    if b"\x00" in body[:256]:
        for codec in _WIDE_CODECS:
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                continue
            if "<!entity" in text.lower() or "<!doctype" in text.lower():
                raise NotAFeed("unsafe_xml", f"the {codec} body declares a DOCTYPE/entities; refused (entity "
                                             "expansion can exhaust memory)")
        return body, None
    start_match = _DOCTYPE.search(body)
    if start_match is None:
        if _ENTITY.search(body):
            raise NotAFeed("unsafe_xml", "the body declares XML entities outside a DOCTYPE; refused")
        return body, None
    start = start_match.start()
    end = _doctype_end(body, start)
    if end is None:
        raise NotAFeed("unsafe_xml", "the DOCTYPE declaration never ends; refused")
    declaration = body[start:end]
    rest = body[:start] + body[end:]
    if _ENTITY.search(rest):
        raise NotAFeed("unsafe_xml", "the body declares XML entities outside its DOCTYPE; refused")
    if b"[" not in declaration:
        return body, None  # an external DTD reference only (old RSS 0.91): harmless, no parser fetches it
    return rest, "removed the DOCTYPE's internal subset (entity declarations are not expanded)"


def _doctype_end(body: bytes, start: int) -> int | None:
    """Index just past the ``>`` that closes the DOCTYPE at ``start``, honouring quotes and ``[...]``."""
    depth = 0
    quote: int | None = None
    index = start + 9
    limit = len(body)
    while index < limit:
        char = body[index]
        if quote is not None:
            if char == quote:
                quote = None
        elif char in (0x22, 0x27):  # " '
            quote = char
        elif char == 0x5B:  # [
            depth += 1
        elif char == 0x5D:  # ]
            depth -= 1
        elif char == 0x3E and depth <= 0:  # >
            return index + 1
        index += 1
    return None


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")


def _fix_char_ref(match: re.Match[bytes]) -> bytes:
    hexa, decimal = match.groups()
    value = int(hexa, 16) if hexa else int(decimal)
    if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return b"&#xFFFD;"  # feedparser raises on &#x110000; (found by fuzzing): one bad reference, not a lost feed
    return match.group(0)


MAX_UNCLOSED_TAGS = 20_000


def _unclosed_tags(body: bytes) -> int:
    """Roughly how many start tags are never closed (C-speed counts, no parsing)."""
    closing = body.count(b"</")
    opening = body.count(b"<") - closing - body.count(b"<?") - body.count(b"<!")
    return opening - closing - body.count(b"/>")


def _parse_xml(body: bytes, content_type: str, url: str, content_language: str | None) -> ParsedFeed:
    body, defused = defuse_xml(body)
    if _unclosed_tags(body) > MAX_UNCLOSED_TAGS:
        # Hundreds of thousands of nested, never-closed tags: expat gives up and feedparser's lenient parser then
        # spends minutes of CPU on them (1.5 million took 43 s). No feed looks like that.
        raise NotAFeed("unsafe_xml", f"more than {MAX_UNCLOSED_TAGS:,} tags are never closed; refused")
    if b"&#" in body:
        body = _CHAR_REF.sub(_fix_char_ref, body)
    try:
        parsed = _parse_defused_xml(body, content_type, url, content_language)
    except NotAFeed:
        raise
    except Exception as exc:  # noqa: BLE001 - feedparser is lenient but not total; a crash is one unreadable feed
        raise NotAFeed("parse", f"the feed parser failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    if defused:
        parsed.problem = f"{defused}; {parsed.problem}" if parsed.problem else defused
        parsed.problem_kind = parsed.problem_kind or "unsafe_xml"
    return parsed


def _parse_defused_xml(body: bytes, content_type: str, url: str, content_language: str | None) -> ParsedFeed:
    headers = {"content-type": content_type or "application/xml", "content-location": url}
    if content_language:
        headers["content-language"] = content_language
    # Our own HTML-to-text drops all markup (and script/style content), and links are resolved against xml:base
    # when normalised, so feedparser's sanitiser and content URI rewriting (two thirds of its time) are skipped.
    result = feedparser.parse(body, response_headers=headers, resolve_relative_uris=False, sanitize_html=False)
    problem, problem_kind = _describe_bozo(result) if result.get("bozo") else (None, None)
    if problem_kind == "encoding" and _encoding_undeclared(body, content_type):
        detected = _detect_and_reparse(body, headers)
        if detected is not None:
            result, problem = detected
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    if not raw_entries and (problem or not version):
        head = body[:1024].lower()
        if any(marker in head for marker in _HTML_MARKERS) and not any(m in head for m in _FEED_MARKERS):
            raise NotAFeed("not_a_feed", f"got an HTML page, not a feed (content-type {content_type or 'unset'})")
        if not version:
            raise NotAFeed("not_a_feed", f"no RSS/Atom feed found ({problem or 'unknown document type'})")
        raise NotAFeed("parse", f"{version} feed with no readable entry ({problem})")
    feed_info = result.get("feed") or {}
    feed_lang = feed_info.get("language") or _detail_lang(feed_info.get("title_detail"))
    entries = [_entry(entry, url) for entry in raw_entries]
    return ParsedFeed(entries, version or "unknown", feed_lang, problem, problem_kind)


def _encoding_undeclared(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    declared_in_xml = head.startswith(b"<?xml") and b"encoding" in head.split(b"?>", 1)[0]
    return not declared_in_xml and "charset=" not in content_type.lower()


def _detect_and_reparse(body: bytes, headers: dict[str, str]) -> tuple[Any, str] | None:
    """Feeds that declare no encoding at all: guess it from the bytes (feedparser itself does not)."""
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None or best.encoding in ("ascii", "utf_8"):
        return None
    # Short Latin text fits several single-byte code pages equally well (an ISO-8859-1 feed came out as cp1257,
    # 12 of 15 titles garbled). Undeclared Western text is windows-1252 by web convention: prefer it whenever it
    # reads as cleanly as the guess.
    for match in matches:
        if match.encoding in _WESTERN and match.percent_chaos <= best.percent_chaos + _CHAOS_SLACK:
            best = match
            break
    utf8 = str(best).encode("utf-8")
    utf8 = _XML_DECL_ENCODING.sub(rb'\1"utf-8"', utf8, count=1)
    content_type = headers["content-type"].split(";")[0] + "; charset=utf-8"
    result = feedparser.parse(
        utf8, response_headers={**headers, "content-type": content_type}, resolve_relative_uris=False,
        sanitize_html=False,
    )
    if result.get("bozo") and not isinstance(result.get("bozo_exception"), feedparser.NonXMLContentType):
        return None
    return result, f"no encoding declared; detected {best.encoding}"


def _describe_bozo(result: Any) -> tuple[str, str]:
    exc = result.get("bozo_exception")
    if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.CharacterEncodingUnknown):
        return f"encoding problem: {exc}", "encoding"
    if isinstance(exc, feedparser.NonXMLContentType):
        return f"served as a non-XML content type: {exc}", "content_type"
    if isinstance(exc, xml.sax.SAXException):
        return f"ill-formed XML, read leniently: {exc}", "ill_formed"
    return f"{type(exc).__name__}: {exc}", "parse"


def _detail_lang(detail: Any) -> str | None:
    if isinstance(detail, dict):
        language = detail.get("language")
        return language if isinstance(language, str) and language else None
    return None


def _entry(entry: Any, base: str) -> RawEntry:
    title_detail = entry.get("title_detail") or {}
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "") or ""
    date_text = entry.get("published") or entry.get("updated") or entry.get("created")
    tags = [tag.get("term") or tag.get("label") or "" for tag in entry.get("tags") or []]
    return RawEntry(
        title=entry.get("title") or "",
        summary=summary,
        link=entry.get("feedburner_origlink") or entry.get("link") or "",
        guid=entry.get("id") or "",
        date_text=date_text if isinstance(date_text, str) else None,
        lang=_detail_lang(title_detail) or _detail_lang(entry.get("summary_detail")),
        tags=[tag for tag in tags if isinstance(tag, str) and tag],
        title_is_html=title_detail.get("type", "text/html") != "text/plain",
        base=title_detail.get("base") or base,
    )
