"""Every date string in feedparser's date corpus normalises to its expected UTC value, or is flagged."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumers.dates import BAD_DATE, FUTURE_CLAMPED, NO_DATE, event_time, parse_date, parse_date_format

# The corpus holds two rows that no single reader can satisfy: feedparser tests each family with its own parser,
# and its W3C-DTF test calls "22013" invalid while its ISO-8601 test reads "03335" as 2003, day 335. Bearwatch
# refuses bare 5-digit strings (a wrong date is worse than a flagged missing one), so "03335" is flagged.
REFUSED_AMBIGUOUS = {"03335"}


def _cases(shared_data: Path) -> list[dict[str, str]]:
    path = shared_data / "feeds" / "malformed" / "feedparser" / "date_parsing_cases.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _iso(value: datetime) -> str:
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}Z"


def test_every_corpus_date_normalises_to_expected_utc_or_is_flagged(shared_data: Path) -> None:
    cases = _cases(shared_data)
    assert len(cases) == 73
    fetched = datetime(2025, 1, 1, tzinfo=UTC)
    wrong = []
    for case in cases:
        text, expected = case["input_date_string"], case["expected_utc"]
        published, flags = event_time(parse_date(text), fetched, timedelta(minutes=15), raw_present=bool(text))
        if text in REFUSED_AMBIGUOUS or (expected and expected < "1970"):
            expected = ""  # refused as ambiguous, or read correctly but implausibly old for news (bad_date)
        if expected:
            if _iso(published) != expected or flags:
                wrong.append((case["parser_family"], text, _iso(published), expected, flags))
        elif published != fetched or NO_DATE not in flags:
            wrong.append((case["parser_family"], text, _iso(published), "flagged", flags))
    assert wrong == []


def test_refused_ambiguous_date_is_flagged_as_bad_not_guessed() -> None:
    fetched = datetime(2025, 1, 1, tzinfo=UTC)
    published, flags = event_time(parse_date("03335"), fetched, timedelta(0), raw_present=True)
    assert published == fetched and flags == [NO_DATE, BAD_DATE]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240501T120000", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # ISO basic (Alpha Vantage)
        ("20240501T1200+0200", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("1714564800", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # epoch seconds
        ("1714564800000", datetime(2024, 5, 1, 12, tzinfo=UTC)),  # epoch milliseconds
        ("2022-05-02 10:11:12.123456", datetime(2022, 5, 2, 10, 11, 12, tzinfo=UTC)),
        ("Sat, 19 Jan 2019 03:47:23 -0500", datetime(2019, 1, 19, 8, 47, 23, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
    ],
)
def test_api_and_feed_date_shapes(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_strptime_override_for_odd_api_dates() -> None:
    assert parse_date_format("01/05/2024 12:30", "%d/%m/%Y %H:%M") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_date_format("garbage", "%d/%m/%Y") is None


def test_future_dates_beyond_tolerance_are_clamped_and_flagged() -> None:
    fetched = datetime(2024, 5, 1, 12, tzinfo=UTC)
    near = fetched + timedelta(minutes=5)
    assert event_time(near, fetched, timedelta(minutes=15)) == (near, [])
    assert event_time(fetched + timedelta(days=2), fetched, timedelta(minutes=15)) == (fetched, [FUTURE_CLAMPED])
    assert event_time(None, fetched, timedelta(minutes=15)) == (fetched, [NO_DATE])


def test_an_impossible_calendar_date_is_refused_not_rolled_over() -> None:
    from consumers.dates import parse_date

    assert parse_date("2022-13-45") is None
    assert parse_date("2022-12-31") is not None
