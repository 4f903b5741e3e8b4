"""From a fetched response to normalised stories: the part of a poll shared by the service and ``feeds check``.

Kept apart from the poller so that the dry run of ``bearwatch feeds check`` shows exactly what the service would
produce (same parser options, same event-time tolerance, same EDGAR handling), minus de-duplication.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from consumers.edgar import is_edgar_url
from consumers.entries import ParsedFeed
from consumers.fetch import FetchResult
from consumers.normalise import EntryContext, Normalised, normalise_entries_async
from consumers.parse import parse_body_async
from consumers.registry import EngineConfig, FeedConfig
from consumers.tickers import TickerLinker
from monitor.ground.contracts import now_utc


@dataclass
class FeedRead:
    parsed: ParsedFeed
    normalised: Normalised
    edgar: bool


def is_edgar_feed(feed: FeedConfig) -> bool:
    return feed.kind == "sec-edgar" or (feed.kind == "auto" and is_edgar_url(feed.url))


async def read_response(
    feed: FeedConfig, result: FetchResult, engine: EngineConfig, linker: TickerLinker | None
) -> FeedRead:
    """Parse the body (in a thread when large) and normalise its entries; raises ``NotAFeed``."""
    edgar = is_edgar_feed(feed)
    parsed = await parse_body_async(
        result.body, thread_above_bytes=engine.thread_parse_bytes, kind="atom" if edgar else feed.kind,
        content_type=result.content_type, url=result.url, mapping=feed.mapping,
        content_language=result.content_language,
    )
    context = EntryContext(
        source=feed.source, feed=feed.name, fetched_at=now_utc(), feed_url=result.url,
        lang=feed.lang or parsed.lang, edgar=edgar, future_tolerance=timedelta(seconds=engine.future_tolerance_s),
    )
    return FeedRead(parsed, await normalise_entries_async(parsed.entries, context, linker), edgar)
