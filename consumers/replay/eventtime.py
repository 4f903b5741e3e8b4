"""Event times of historical rows: time zones, odd formats, day-only dates, and a clear reason when unreadable.

Historical files are messier than feeds: ISO times with or without zone or microseconds, RFC 822, epochs, Python
``datetime`` values out of Parquet, and dates with no time of day at all (the Reuters 2011 file). The rules:

* An ISO-8601 date-time is read strictly with :meth:`datetime.fromisoformat`: ``2022-13-45 10:00`` is refused
  (``bad_date``) rather than rolled over to next year, as a lenient reader would.
* A time without a zone is in ``tz`` (default UTC, ``--tz Europe/Warsaw`` to change it).
* A DAY-ONLY date (``20110706``, ``2011-07-06``, ``2011/07/06``, ``July 6, 2011``) becomes that day at ``day_time``
  UTC (default 12:00, ``--day-time HH:MM``) and is flagged ``day_only_date`` on the story: a fixed, documented
  time of day, so the same file always gives the same event times.
* Everything else goes through :func:`consumers.dates.parse_date`, the live consumers' parser (RFC 822 and friends,
  epochs), then a short list of unambiguous formats (``2022/05/02 10:00``, ``May 2, 2022 10:00 AM``). Day-first
  or month-first numeric dates (``02/05/2022``) are ambiguous and refused unless ``--date-format`` says which.
* Years outside 1970-2100 are refused (``bad_date``): a typo, not an event time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consumers.dates import parse_date, parse_date_format
from monitor.ground.errors import BearwatchError

DAY_ONLY = "day_only_date"
_DAY = re.compile(r"(\d{4})([-/]?)(\d{2})\2(\d{2})")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")
_EPOCH = re.compile(r"-?\d{9,13}(?:\.\d+)?")
_EXTRA_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M",
                  "%b %d, %Y %I:%M %p", "%B %d, %Y %I:%M %p", "%b %d, %Y %H:%M", "%B %d, %Y %H:%M")
_EXTRA_DAY_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y")
MIN_YEAR, MAX_YEAR = 1970, 2100


class BadTime(ValueError, BearwatchError):
    """A row's time cannot be used; ``reason`` is ``no_date`` or ``bad_date``."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def parse_day_time(text: str) -> time:
    """``HH:MM`` (24 h) for ``--day-time``."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"--day-time must be HH:MM between 00:00 and 23:59 (got {text!r})")
    return time(int(match.group(1)), int(match.group(2)))


def parse_zone(name: str) -> tzinfo:
    """An IANA zone name for naive times (``UTC``, ``Europe/Warsaw``, ``America/New_York``)."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Warsaw") from exc


@dataclass(frozen=True)
class EventTimeReader:
    """Turns a cell (string, number, datetime, date) into ``(UTC datetime, day_only)`` or raises :class:`BadTime`.

    Example::

        reader = EventTimeReader(day_time=time(12, 0))
        reader.read("20110706")                   # (2011-07-06 12:00 UTC, True)
        reader.read("2022-05-02 00:03:57+02:00")  # (2022-05-01 22:03:57 UTC, False)
    """

    day_time: time = time(12, 0)
    tz: tzinfo = field(default=UTC)
    date_format: str | None = None

    def read(self, value: object) -> tuple[datetime, bool]:
        moment, day_only = self._read(value)
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise BadTime("bad_date", f"date {value!r} is outside {MIN_YEAR}-{MAX_YEAR}")
        return moment, day_only

    def _read(self, value: object) -> tuple[datetime, bool]:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadTime("no_date", "no date")
        if isinstance(value, datetime):
            return self._zoned(value), False
        if isinstance(value, date):
            return self._day(value), True
        if isinstance(value, bool):
            raise BadTime("bad_date", f"unreadable date {value!r}")
        if isinstance(value, int | float):
            return self._epoch(value)
        text = str(value).strip()
        if self.date_format:
            return self._formatted(text, self.date_format)
        day = _DAY.fullmatch(text)
        if day:
            try:
                return self._day(date(int(day.group(1)), int(day.group(3)), int(day.group(4)))), True
            except ValueError:
                raise BadTime("bad_date", f"no such day {text!r}") from None
        if _ISO_DATETIME.match(text):
            try:
                return self._zoned(datetime.fromisoformat(text.replace("z", "Z"))), False
            except ValueError:
                raise BadTime("bad_date", f"invalid ISO 8601 date-time {text!r}") from None
        if _EPOCH.fullmatch(text):
            return self._epoch(float(text))
        return self._other(text)

    def _formatted(self, text: str, fmt: str) -> tuple[datetime, bool]:
        if not _has_time_fields(fmt):
            try:
                return self._day(datetime.strptime(text, fmt).date()), True
            except ValueError:
                raise BadTime("bad_date", f"date {text!r} does not match --date-format {fmt!r}") from None
        parsed = parse_date_format_local(text, fmt, self.tz)
        if parsed is None:
            raise BadTime("bad_date", f"date {text!r} does not match --date-format {fmt!r}")
        return parsed, False

    def _other(self, text: str) -> tuple[datetime, bool]:
        for fmt in _EXTRA_DAY_FORMATS:
            try:
                return self._day(datetime.strptime(text, fmt).date()), True
            except ValueError:
                continue
        for fmt in _EXTRA_FORMATS:
            parsed = parse_date_format_local(text, fmt, self.tz)
            if parsed is not None:
                return parsed, False
        parsed = parse_date(text)
        if parsed is None:
            raise BadTime("bad_date", f"unreadable date {text!r}")
        return parsed, False

    def _zoned(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tz)
        return value.astimezone(UTC)

    def _day(self, value: date) -> datetime:
        return datetime.combine(value, self.day_time, tzinfo=UTC)

    def _epoch(self, value: float) -> tuple[datetime, bool]:
        seconds = value / 1000 if abs(value) >= 1e11 else value
        parsed = parse_date(seconds)
        if parsed is None:
            raise BadTime("bad_date", f"epoch {value!r} out of range")
        return parsed, False


def parse_date_format_local(text: str, fmt: str, tz: tzinfo) -> datetime | None:
    """strptime; a format without a zone is read in ``tz`` (the live helper assumes UTC)."""
    if tz is UTC:
        return parse_date_format(text, fmt)
    try:
        parsed = datetime.strptime(text.strip(), fmt)
    except (ValueError, TypeError):
        return None
    return (parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed).astimezone(UTC)


def _has_time_fields(fmt: str) -> bool:
    return any(directive in fmt for directive in ("%H", "%I", "%M", "%S", "%X", "%c", "%s"))
