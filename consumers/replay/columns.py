"""Which column of a tabular file holds the time, title, summary, link, source and ticker of a story.

Auto-detection looks for the usual names (case, spaces and hyphens ignored), in this order of preference:

=========  ==========================================================================
time       date_published, published_at, published, pubdate, datetime, date, time, timestamp, date_yyyymmdd
title      title, headline
summary    description, summary, abstract, content, body, text
link       link, url
source     source, source_feed, publisher, feed, site
ticker     ticker, tickers, stock, symbol, symbols
lang       language, lang
guid       guid, id
=========  ==========================================================================

``--map time=col,title=col`` overrides any of them (``--map ticker=`` switches one off). A file must end up with
a time column and a title or summary column; otherwise :class:`MappingError` names what is missing and which
columns the file has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from monitor.ground.errors import BearwatchError

CANDIDATES: dict[str, tuple[str, ...]] = {
    "time": ("date_published", "published_at", "published", "pubdate", "datetime", "date", "time", "timestamp",
             "date_yyyymmdd", "created_at"),
    "title": ("title", "headline"),
    "summary": ("description", "summary", "abstract", "content", "body", "text"),
    "link": ("link", "url"),
    "source": ("source", "source_feed", "publisher", "feed", "site"),
    "ticker": ("ticker", "tickers", "stock", "symbol", "symbols"),
    "lang": ("language", "lang"),
    "guid": ("guid", "id"),
}


class MappingError(ValueError, BearwatchError):
    """The column mapping is incomplete or names a column the file does not have."""


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class ColumnMap:
    """Column name per story field; ``None`` = the file has no such column."""

    time: str | None = None
    title: str | None = None
    summary: str | None = None
    link: str | None = None
    source: str | None = None
    ticker: str | None = None
    lang: str | None = None
    guid: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def describe(self) -> str:
        return ", ".join(f"{name}={column}" for name, column in self.as_dict().items() if column)


def parse_map_option(text: str | None) -> dict[str, str | None]:
    """``time=col,title=col,ticker=`` into a dict (empty value = no such column)."""
    if not text or not text.strip():
        return {}
    known = {f.name for f in fields(ColumnMap)}
    out: dict[str, str | None] = {}
    for part in text.split(","):
        name, sep, column = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in known:
            raise MappingError(
                f"--map expects field=column pairs with fields {', '.join(sorted(known))} (got {part!r})")
        out[name] = column.strip() or None
    return out


def detect_columns(columns: Iterable[str], explicit: Mapping[str, str | None] | None = None) -> ColumnMap:
    """Auto-detect the mapping from ``columns``, then apply ``explicit`` choices; validate the result."""
    available = list(dict.fromkeys(str(column) for column in columns))
    by_norm: dict[str, str] = {}
    for column in available:
        by_norm.setdefault(_norm(column), column)
    found: dict[str, str | None] = {}
    taken: set[str] = set()
    for name, candidates in CANDIDATES.items():
        found[name] = next((by_norm[c] for c in candidates if c in by_norm and by_norm[c] not in taken), None)
        if found[name]:
            taken.add(found[name] or "")
    mapping = replace(ColumnMap(), **found)
    if explicit:
        for name, wanted in explicit.items():
            if wanted is not None and wanted not in available:
                match = by_norm.get(_norm(wanted))
                if match is None:
                    raise MappingError(f"--map {name}={wanted}: no such column; the file has {', '.join(available)}")
                wanted = match
            mapping = replace(mapping, **{name: wanted})
    if mapping.time is None:
        raise MappingError(f"no time column found among {', '.join(available)}: pass --map time=COLUMN")
    if mapping.title is None and mapping.summary is None:
        raise MappingError(f"no title or summary column among {', '.join(available)}: pass --map title=COLUMN")
    return mapping
