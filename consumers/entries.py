"""The format-neutral entry every reader produces and the normaliser consumes.

RSS/Atom (feedparser), JSON APIs, SEC EDGAR and the replay of historical files all reduce their input to
:class:`RawEntry`, so there is exactly one normalisation, id and dedup path behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.ground.errors import BearwatchError


@dataclass
class RawEntry:
    """One item as the source gave it: text may still hold HTML, the date may still be a string."""

    title: str = ""
    summary: str = ""
    link: str = ""
    guid: str = ""
    date_text: str | None = None
    date_value: datetime | None = None
    lang: str | None = None
    tickers: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    title_is_html: bool = True
    base: str = ""


@dataclass
class ParsedFeed:
    """What a reader got out of one response. ``problem`` says why only part of it could be read."""

    entries: list[RawEntry]
    format: str = ""
    lang: str | None = None
    problem: str | None = None
    problem_kind: str | None = None


class NotAFeed(ValueError, BearwatchError):
    """The body holds no readable feed at all (an HTML page, garbage, an empty or broken document)."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)
