"""One entry in, one :class:`~monitor.ground.contracts.Story` out: the single normalisation path of every source.

Live feeds and the replay of historical files both call :func:`normalise_entry`, so a story gets the same id,
text, URL, event time and tickers whichever way it arrived; that is what lets a replay reproduce a live run.
The story id (architecture brief, section 3) is a hash of the canonical URL, else of source + GUID, else of
source + title + the date as written; never of the fetch time, which would make an undated entry new on every
poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from consumers.dates import event_time, parse_date
from consumers.edgar import filing_tickers
from consumers.entities import story_entities
from consumers.entries import RawEntry
from consumers.language import detect_language
from consumers.plaintext import CONTROL, html_to_text
from consumers.tickers import TickerLinker
from consumers.urls import canonical_url
from monitor.ground.contracts import Story
from monitor.ground.errors import BearwatchError

MAX_TITLE_CHARS = 500
MAX_SUMMARY_CHARS = 2000
NO_TITLE = "no_title"
_LANG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")
_SPACE = re.compile(r"\s+")
_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}(?:[.-][A-Z0-9]{1,3})?$")


class EntryError(ValueError, BearwatchError):
    """An entry cannot become a story; ``reason`` is a short metric label (``no_text``, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


@dataclass(frozen=True)
class EntryContext:
    """Where an entry came from: the feed's source and name, when it was fetched, how to read it."""

    source: str
    feed: str
    fetched_at: datetime
    feed_url: str = ""
    lang: str | None = None
    edgar: bool = False
    future_tolerance: timedelta = timedelta(minutes=15)


def story_id(url: str, guid: str, source: str, title: str, date_text: str | None) -> str:
    """Stable id: canonical URL, else source + GUID, else source + title + date as written."""
    if url:
        basis = "url\x1f" + url
    elif guid.strip():
        basis = f"guid\x1f{source}\x1f{guid.strip()}"
    else:
        basis = f"text\x1f{source}\x1f{title}\x1f{(date_text or '').strip()}"
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def normalise_entry(entry: RawEntry, context: EntryContext, linker: TickerLinker | None = None) -> Story:
    """Build the Story for one entry; raise :class:`EntryError` when it has no text to score."""
    title = _plain(entry.title, entry.title_is_html, MAX_TITLE_CHARS)
    summary = html_to_text(entry.summary, MAX_SUMMARY_CHARS)
    flags: list[str] = []
    if not title:
        if not summary:
            raise EntryError("no_text", "entry has neither a title nor a summary")
        title = _headline_from(summary)
        flags.append(NO_TITLE)
    url = canonical_url(entry.link, entry.base or context.feed_url)
    if not url and entry.guid.startswith(("http://", "https://")):
        url = canonical_url(entry.guid, entry.base or context.feed_url)
    published = entry.date_value or parse_date(entry.date_text)
    published_at, date_flags = event_time(
        published, context.fetched_at, context.future_tolerance, raw_present=bool(entry.date_text)
    )
    flags.extend(date_flags)
    tickers = [ticker for ticker in (t.strip().upper() for t in entry.tickers) if _TICKER.match(ticker)]
    links = None
    if linker is not None:
        if context.edgar:
            tickers.extend(filing_tickers(title, linker))
        links = linker.links(title, summary, " ".join(entry.tags))
        tickers.extend(links.tickers)
    return Story(
        id=story_id(url, entry.guid, context.source, title, entry.date_text),
        source=context.source,
        feed=context.feed,
        url=url,
        title=title,
        summary=summary,
        published_at=published_at,
        fetched_at=context.fetched_at,
        tickers=list(dict.fromkeys(tickers)),
        entities=story_entities(title, links),
        lang=detect_language(title, summary, declared=_language(entry.lang or context.lang)),
        flags=flags,
    )


def _plain(text: str, is_html: bool, max_chars: int) -> str:
    if is_html:
        return html_to_text(text, max_chars)
    cleaned = _SPACE.sub(" ", CONTROL.sub("", text)).strip()
    if "&" in cleaned:  # plain text with entities left in it was escaped twice by the publisher
        cleaned = html_to_text(cleaned.replace("<", "&lt;"), max_chars)
    return cleaned[:max_chars]


def _headline_from(summary: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s", summary, maxsplit=1)[0]
    return sentence if len(sentence) <= 140 else sentence[:139].rstrip() + "…"


def _language(value: str | None) -> str | None:
    if not value:
        return None
    lowered = value.strip().lower().replace("_", "-")
    return lowered if _LANG.match(lowered) else None


@dataclass
class Normalised:
    """Stories built from a batch of entries, and the entries that could not be used, by reason."""

    stories: list[Story]
    rejected: dict[str, int]
    first_rejection: str | None = None


def normalise_entries(entries: list[RawEntry], context: EntryContext, linker: TickerLinker | None) -> Normalised:
    """:func:`normalise_entry` over a batch; one bad entry never stops the others."""
    stories: list[Story] = []
    rejected: dict[str, int] = {}
    first: str | None = None
    for entry in entries:
        try:
            stories.append(normalise_entry(entry, context, linker))
        except EntryError as exc:
            rejected[exc.reason] = rejected.get(exc.reason, 0) + 1
            first = first or str(exc)
        except ValueError as exc:  # pydantic's ValidationError: a field the contract refuses
            rejected["invalid"] = rejected.get("invalid", 0) + 1
            first = first or f"invalid story: {exc.errors()[0]['msg'] if hasattr(exc, 'errors') else exc}"
    return Normalised(stories, rejected, first)


NORMALISE_CHUNK = 200


async def normalise_entries_async(
    entries: list[RawEntry], context: EntryContext, linker: TickerLinker | None, chunk: int = NORMALISE_CHUNK
) -> Normalised:
    """:func:`normalise_entries` in chunks, yielding to the event loop between them.

    A 27,000-item feed once held the consumers' loop for 8 s; a chunk of 200 entries takes a few milliseconds,
    so other feeds, the producer and ``/health`` keep being served while a huge feed is read.
    """
    if len(entries) <= chunk:
        return normalise_entries(entries, context, linker)
    stories: list[Story] = []
    rejected: dict[str, int] = {}
    first: str | None = None
    for start in range(0, len(entries), chunk):
        part = normalise_entries(entries[start:start + chunk], context, linker)
        stories.extend(part.stories)
        for reason, count in part.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
        first = first or part.first_rejection
        await asyncio.sleep(0)
    return Normalised(stories, rejected, first)
