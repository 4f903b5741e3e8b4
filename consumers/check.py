"""A dry run of one feed for ``bearwatch feeds check``: the service's fetch, parse and normalise, no Kafka or Redis.

It answers "what would Bearwatch make of this URL?" before the feed goes into the registry: the stories with their
event times, tickers and flags, how many entries were unusable, and any problem with the feed itself.
De-duplication needs Redis, so near-duplicate clusters are not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from consumers.entries import NotAFeed
from consumers.fetch import Fetcher, FetchError
from consumers.reader import read_response
from consumers.registry import EngineConfig, FeedConfig
from consumers.tickers import TickerLinker
from monitor.schemas import Story


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
            console.print(f"[bold red]{self.url}[/]: {self.error}", highlight=False)
            return
        table = Table(title=f"{self.url} ({self.format}, {self.wire_bytes:,} bytes)", show_lines=False)
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
            console.print(f"[yellow]feed problem:[/] {self.problem}", highlight=False)


async def check_feed(feed: FeedConfig, fetcher: Fetcher, engine: EngineConfig, linker: TickerLinker) -> CheckReport:
    report = CheckReport(feed.resolved_url())
    try:
        result = await fetcher.fetch(report.url, feed.resolved_headers())
        report.wire_bytes = result.wire_bytes
        read = await read_response(feed, result, engine, linker)
    except FetchError as exc:
        report.error = f"{exc.kind}: {exc}"
        return report
    except NotAFeed as exc:
        report.error = f"{exc.kind}: {exc.reason}"
        return report
    report.stories = read.normalised.stories
    report.entries = len(read.parsed.entries)
    report.rejected = read.normalised.rejected
    report.problem = read.parsed.problem
    report.format = read.parsed.format
    return report
