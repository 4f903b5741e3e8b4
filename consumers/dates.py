"""Turn the date strings feeds and APIs send into UTC datetimes, or say plainly that there is none.

``published_at`` is the event time every window downstream is keyed on, so a wrong date is worse than a missing
one: a missing date becomes the fetch time with the flag ``no_date``, visibly. feedparser's catch-all
``_parse_date`` is too forgiving for that (its loose ISO-8601 reader rolls ``25:14`` over to the next day and
reads ``2013-xx-27`` as November), so :func:`parse_date` runs feedparser's strict per-format readers in a fixed
order (RFC 822, W3C-DTF, asctime, Perforce, Greek, Hungarian, Korean) and the loose ISO-8601 reader only on text
that is ISO-8601 in shape, with every field in range. It also reads Unix epochs (s or ms) from JSON APIs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from feedparser import datetimes as feedparser_dates

log = logging.getLogger(__name__)

NO_DATE = "no_date"
BAD_DATE = "bad_date"
FUTURE_CLAMPED = "future_date_clamped"
# Dates before the Unix epoch are read as bad dates (fetch time + ``bad_date``): news archives (Reuters-21578,
# 1987) are newer, and such years come from zeroed Windows FILETIMEs (1601), .NET defaults (0001) or typos.
OLDEST_PLAUSIBLE = datetime(1970, 1, 1, tzinfo=UTC)

_STRICT_READERS: tuple[Callable[[str], time.struct_time | None], ...] = (
    feedparser_dates._parse_date_rfc822,
    feedparser_dates._parse_date_w3dtf,
    feedparser_dates._parse_date_asctime,
    feedparser_dates._parse_date_perforce,
    feedparser_dates._parse_date_greek,
    feedparser_dates._parse_date_hungarian,
    feedparser_dates._parse_date_nate,
    feedparser_dates._parse_date_onblog,
)
# ISO 8601 in the shapes feedparser's reader accepts (YY, YYMM, ordinal days, 3-digit months), whole string only.
# A bare 5-digit number is refused: "22013" (a mistyped year) and "03335" (2003, day 335) look alike.
_ISO_SHAPE = re.compile(
    r"-?\d{2,4}(?:-?\d{2,3})?(?:-?\d{2})?"
    r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"(?:Z|[+-](?P<tzh>\d{2}):?(?P<tzm>\d{2})?)?)?"
)
# ISO 8601 basic format (APIs such as Alpha Vantage: 20240501T120000), which feedparser reads as midnight.
_ISO_BASIC = re.compile(
    r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?"
)
_EPOCH = re.compile(r"\d{9,10}(?:\.\d+)?|\d{13}")
_COMMA_NO_SPACE = re.compile(r",(?=\S)")


def parse_date(text: str | float | int | None) -> datetime | None:
    """A timezone-aware UTC datetime, or None when ``text`` is empty, unreadable or out of range."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return _from_epoch(float(text))
    value = text.strip()
    if not value:
        return None
    if _EPOCH.fullmatch(value):
        return _from_epoch(float(value) / (1000 if len(value) == 13 else 1))
    basic = _ISO_BASIC.fullmatch(value)
    if basic:
        return _from_basic(basic)
    for candidate in dict.fromkeys((value, _COMMA_NO_SPACE.sub(", ", value))):
        for reader in _STRICT_READERS:
            parsed = _to_datetime(_call(reader, candidate))
            if parsed is not None:
                return parsed
    if _iso_in_range(value):
        return _to_datetime(_call(feedparser_dates._parse_date_iso8601, value))
    return None


def parse_date_format(text: str, fmt: str) -> datetime | None:
    """Read ``text`` with a strptime format (per-API override); no zone in the format means UTC."""
    try:
        parsed = datetime.strptime(text.strip(), fmt)
    except (ValueError, TypeError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def event_time(
    published: datetime | None,
    fetched_at: datetime,
    future_tolerance: timedelta,
    raw_present: bool = False,
) -> tuple[datetime, list[str]]:
    """The story's ``published_at`` and flags: fetch time when missing or implausibly old (before
    :data:`OLDEST_PLAUSIBLE`), clamped when too far in the future."""
    if published is not None and published < OLDEST_PLAUSIBLE:
        published, raw_present = None, True  # year 1601 is a parser's zero, not a news date
    if published is None:
        return fetched_at, [NO_DATE, BAD_DATE] if raw_present else [NO_DATE]
    if published > fetched_at + future_tolerance:
        return fetched_at, [FUTURE_CLAMPED]
    return published, []


def _call(reader: Callable[[str], time.struct_time | None], value: str) -> time.struct_time | None:
    try:
        return reader(value)
    except (ValueError, TypeError, OverflowError, IndexError, KeyError):
        return None


def _to_datetime(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _from_epoch(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _from_basic(match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, zone = match.groups()
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    return local - offset


def _iso_in_range(value: str) -> bool:
    match = _ISO_SHAPE.fullmatch(value)
    if match is None or re.fullmatch(r"\d{5}", value):
        return False
    day = re.match(r"\d{4}-(\d{2})-(\d{2})", value)
    if day and not (1 <= int(day.group(1)) <= 12 and 1 <= int(day.group(2)) <= 31):
        return False  # an impossible calendar date is refused, not rolled over into the next year
    limits = {"hour": 23, "minute": 59, "second": 60, "tzh": 14, "tzm": 59}
    return all(match.group(name) is None or int(match.group(name)) <= top for name, top in limits.items())
