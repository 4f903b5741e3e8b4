"""A dry run of one feed for ``bearwatch feeds check``: the service's fetch, parse and normalise, no Kafka or Redis.

It answers "what would Bearwatch make of this URL?" before the feed goes into the registry: the stories with their
event times, tickers and flags, how many entries were unusable, and any problem with the feed itself.
De-duplication needs Redis, so near-duplicate clusters are not shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from consumers.entries import NotAFeed
from consumers.fetch import Fetcher, FetchError, FetchResult
from consumers.poller import remember_feed_secrets
from consumers.reader import FeedRead, read_response
from consumers.registry import EngineConfig, FeedConfig
from consumers.tickers import TickerLinker
from consumers.validators import Validators
from monitor.ground.contracts import Story
from monitor.ground.redact import redact_text, redact_url


@dataclass
class CheckReport:
    url: str
    stories: list[Story] = field(default_factory=list)
    entries: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    problem: str | None = None
    error: str | None = None
    format: str = ""
    wire_bytes: int = 0

    def print(self, console: Console, limit: int) -> None:
        if self.error:
            console.print(f"[bold red]{escape(self.url)}[/]: {escape(self.error)}", highlight=False, soft_wrap=True)
            return
        table = Table(title=escape(f"{self.url} ({self.format}, {self.wire_bytes:,} bytes)"), show_lines=False)
        for column in ("published (UTC)", "title", "tickers", "flags", "url"):
            table.add_column(column, overflow="fold")
        for story in self.stories[:limit]:
            table.add_row(
                story.published_at.strftime("%Y-%m-%d %H:%M"), story.title, " ".join(story.tickers),
                " ".join(story.flags), story.url,
            )
        console.print(table)
        rejected = sum(self.rejected.values())
        summary = f"{len(self.stories)} stories from {self.entries} entries"
        if rejected:
            summary += f"; {rejected} unusable ({', '.join(f'{k}: {v}' for k, v in self.rejected.items())})"
        if len(self.stories) > limit:
            summary += f"; showing the first {limit}"
        console.print(summary, highlight=False)
        if self.problem:
            console.print(f"[yellow]feed problem:[/] {escape(self.problem)}", highlight=False, soft_wrap=True)


async def check_feed(feed: FeedConfig, fetcher: Fetcher, engine: EngineConfig, linker: TickerLinker) -> CheckReport:
    """Fetch ``feed`` once and read it; every failure becomes ``report.error`` (one line, URLs redacted)."""
    remember_feed_secrets(feed)
    report = CheckReport(redact_url(feed.resolved_url()))
    try:
        result = await fetcher.fetch(feed.resolved_url(), feed.resolved_headers())
        report.wire_bytes = result.wire_bytes
        if result.redirected_from:
            report.url = f"{redact_url(result.url)} (redirected from {report.url})"
        read = await read_response(feed, result, engine, linker)
    except FetchError as exc:
        report.error = redact_text(f"{exc.kind}: {exc}")
        return report
    except NotAFeed as exc:
        report.error = redact_text(f"{exc.kind}: {exc.reason}")
        return report
    _fill(report, read)
    return report


def path_of(feed: FeedConfig) -> Path | None:
    """The local file a :func:`file_feed` entry reads, None for a fetched feed."""
    if not feed.url.startswith("file:"):
        return None
    return Path(url2pathname(urlsplit(feed.url).path))


def file_feed(path: Path, kind: str, name: str = "check-file") -> FeedConfig:
    """A feed entry for a local file (``feeds check ./saved.xml``); it is read, never fetched."""
    return FeedConfig.model_construct(name=name, url=path.resolve().as_uri(), source=path.name, kind=kind)


async def check_file(path: Path, feed: FeedConfig, engine: EngineConfig, linker: TickerLinker) -> CheckReport:
    """Read a saved feed from disk through the same parse and normalise path (at most ``max_body_bytes``)."""
    report = CheckReport(str(path))
    try:
        body = await asyncio.to_thread(_read_bounded, path, engine.max_body_bytes)
    except OSError as exc:
        report.error = f"unreadable: cannot read {path} ({exc.strerror or exc})"
        return report
    if body is None:
        report.error = f"too_large: {path} holds more than the {engine.max_body_bytes:,} bytes a feed may"
        return report
    content_type = "application/json" if path.suffix.lower() == ".json" else ""
    result = FetchResult(status=200, body=body, url=feed.url, content_type=content_type,
                         content_language=None, validators=Validators(), wire_bytes=len(body), elapsed_s=0.0,
                         politeness_wait_s=0.0)
    report.wire_bytes = len(body)
    try:
        read = await read_response(feed, result, engine, linker)
    except NotAFeed as exc:
        report.error = f"{exc.kind}: {exc.reason}"
        return report
    _fill(report, read)
    return report


def _read_bounded(path: Path, limit: int) -> bytes | None:
    with path.open("rb") as handle:
        body = handle.read(limit + 1)
    return None if len(body) > limit else body


def _fill(report: CheckReport, read: FeedRead) -> None:
    report.stories = read.normalised.stories
    report.entries = len(read.parsed.entries)
    report.rejected = read.normalised.rejected
    report.problem = read.parsed.problem
    report.format = read.parsed.format
