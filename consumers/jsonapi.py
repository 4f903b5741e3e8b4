"""Read JSON news APIs (and JSON Feed) into :class:`RawEntry` items through a field mapping.

Every news API nests its items and names its fields differently, so a feed's ``[feed.mapping]`` in the registry
says where they are (``items = "data.articles"``, ``tickers = "entities[].symbol"``). Without a mapping the
reader recognises JSON Feed (jsonfeed.org) and otherwise looks for a list of objects under the usual keys with the
usual field names. An item without a usable title or link is skipped and counted by the caller, never guessed.
"""

from __future__ import annotations

import json
from typing import Any

from consumers.dates import parse_date_format
from consumers.entries import NotAFeed, ParsedFeed, RawEntry
from consumers.registry import JsonMapping

_MAX_DEPTH = 8
_LIST_KEYS = ("items", "articles", "data", "results", "feed", "news", "stories", "entries")
_AUTO_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "link": ("url", "link", "article_url", "href", "permalink"),
    "date": ("date_published", "published_at", "publishedAt", "pubDate", "published", "date", "datetime",
             "time_published", "created_at", "timestamp", "time"),
    "summary": ("summary", "description", "content_text", "teaser", "abstract", "content_html", "content",
                "body"),
    "id": ("id", "guid", "uuid"),
    "tickers": ("tickers", "symbols", "ticker"),
    "lang": ("language", "lang"),
}


def parse_json_feed(body: bytes, mapping: JsonMapping | None, base: str = "") -> ParsedFeed:
    """Items of a JSON document; raises :class:`NotAFeed` when it is not JSON or holds no item list."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeed("not_a_feed", f"not valid JSON ({exc})") from None
    except RecursionError:
        raise NotAFeed("not_a_feed", "JSON nested too deeply to be a news feed; refused") from None
    if mapping is not None:
        items = resolve(document, mapping.items)
        fields: dict[str, tuple[str, ...]] = {
            "title": (mapping.title,), "link": (mapping.link,), "date": (mapping.date,),
            "summary": (mapping.summary,) if mapping.summary else (), "id": (mapping.id,) if mapping.id else (),
            "tickers": (mapping.tickers,) if mapping.tickers else (), "lang": (mapping.lang,) if mapping.lang else (),
        }
        date_format = mapping.date_format
    else:
        items, fields, date_format = _auto_items(document), _AUTO_FIELDS, None
    if not isinstance(items, list):
        where = mapping.items if mapping else "items/articles/data/results"
        raise NotAFeed("not_a_feed", f"JSON has no list of items at {where!r}")
    lang = document.get("language") if isinstance(document, dict) else None
    entries = [_entry(item, fields, date_format, base) for item in items if isinstance(item, dict)]
    skipped = sum(1 for item in items if not isinstance(item, dict))
    problem = f"{skipped} item(s) are not JSON objects" if skipped else None
    version = str(document.get("version", "")) if isinstance(document, dict) else ""
    return ParsedFeed(
        entries, "jsonfeed" if "jsonfeed" in version else "json", lang if isinstance(lang, str) else None,
        problem, "bad_items" if skipped else None,
    )


def resolve(document: Any, path: str) -> Any:
    """Follow a dotted path; ``a[].b`` collects ``b`` from every element of list ``a``; missing gives None."""
    current: Any = document
    parts = [part for part in path.split(".") if part]
    for index, part in enumerate(parts):
        if part.endswith("[]"):
            current = current.get(part[:-2]) if isinstance(current, dict) else None
            if not isinstance(current, list):
                return None
            rest = ".".join(parts[index + 1:])
            return [resolve(element, rest) if rest else element for element in current]
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _auto_items(document: Any, depth: int = 0) -> Any:
    """The first list of items under the usual keys, looking at most ``_MAX_DEPTH`` objects deep."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and depth < _MAX_DEPTH:
        for key in _LIST_KEYS:
            value = document.get(key)
            if isinstance(value, list):
                return value
            if isinstance(value, dict):
                nested = _auto_items(value, depth + 1)
                if isinstance(nested, list):
                    return nested
    return None


def _first(item: dict[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = resolve(item, path)
        if value not in (None, "", []):
            return value
    return None


def _text(value: Any) -> str:
    """A text field: strings and numbers as written; objects by their usual text key; nothing else."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, dict):
        value = value.get("text") or value.get("value") or value.get("name") or ""
    if isinstance(value, list):
        return " ".join(_text(part) for part in value[:20] if isinstance(part, str | int | float))
    return value if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""


def _link(value: Any) -> str:
    """A link must be a string (a JSON ``true`` once became ``http://host/True``); an object's ``href``/``url``."""
    if isinstance(value, dict):
        value = value.get("href") or value.get("url")
    return value if isinstance(value, str) else ""


def _entry(item: dict[str, Any], fields: dict[str, tuple[str, ...]], date_format: str | None, base: str) -> RawEntry:
    date_raw = _first(item, fields["date"])
    date_value = None
    date_text: str | None = None
    if date_raw is not None:
        if date_format and isinstance(date_raw, str):
            date_value = parse_date_format(date_raw, date_format)
        date_text = date_raw if isinstance(date_raw, str) else str(date_raw)
    tickers_raw = _first(item, fields["tickers"])
    if isinstance(tickers_raw, str):
        tickers_raw = [part for part in tickers_raw.replace(";", ",").split(",")]
    if not isinstance(tickers_raw, list):
        tickers_raw = []  # found by fuzzing: "tickers": true
    tickers = [str(t).strip().upper() for t in tickers_raw
               if isinstance(t, str | int) and not isinstance(t, bool) and str(t).strip()]
    lang = _first(item, fields["lang"])
    return RawEntry(
        title=_text(_first(item, fields["title"])),
        summary=_text(_first(item, fields["summary"])),
        link=_link(_first(item, fields["link"])),
        guid=_text(_first(item, fields["id"])),
        date_text=date_text,
        date_value=date_value,
        lang=lang if isinstance(lang, str) else None,
        tickers=tickers,
        title_is_html=True,
        base=base,
    )
