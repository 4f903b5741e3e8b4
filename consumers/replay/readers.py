"""Historical files → :class:`ReplayRow` (a ``RawEntry`` with its event time) or :class:`RowError`, one per record.

Formats, chosen by extension unless given: CSV/TSV (``.csv``, ``.tsv``), JSON Lines (``.jsonl``, ``.ndjson``;
a ``.json`` file may also be one array of objects), Parquet (``.parquet``, ``.pq``) and saved RSS/Atom (``.xml``,
``.rss``, ``.atom``, read by the live consumers' feedparser path, :func:`consumers.parse.parse_body`).

A record that cannot be used (unreadable JSON, no or bad date) becomes a :class:`RowError` with its 1-based record
number (the header line is not counted) and the reading goes on: one bad row never stops a replay. Reading is
plain blocking I/O; callers run it in a thread (:func:`consumers.replay.source.load_stories` does).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consumers.entries import NotAFeed, RawEntry
from consumers.parse import parse_body
from consumers.replay.columns import ColumnMap, detect_columns
from consumers.replay.eventtime import BadTime, EventTimeReader
from monitor.ground.errors import BearwatchError

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "feed")
_BY_SUFFIX = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
              ".parquet": "parquet", ".pq": "parquet", ".xml": "feed", ".rss": "feed", ".atom": "feed"}
_TICKER_SPLIT = str.maketrans({",": " ", ";": " ", "|": " ", "/": " "})
MAX_CONSECUTIVE_CSV_ERRORS = 1000
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class ReadError(ValueError, BearwatchError):
    """The file as a whole cannot be read (missing, unknown format, no usable columns, not a feed)."""


@dataclass
class ReplayRow:
    """One usable record: the entry for :func:`normalise_entry`, its event time and where it came from."""

    number: int
    entry: RawEntry
    published: datetime
    day_only: bool
    source: str
    feed: str


@dataclass(frozen=True)
class RowError:
    number: int
    reason: str
    detail: str


@dataclass
class ReadOptions:
    """How to read a file: explicit columns (``--map``), time rules, the source name when the file has none."""

    explicit: Mapping[str, str | None] = field(default_factory=dict)
    times: EventTimeReader = field(default_factory=EventTimeReader)
    default_source: str | None = None
    format: str | None = None


def file_format(path: Path, given: str | None = None) -> str:
    if given:
        if given not in FORMATS:
            raise ReadError(f"unknown format {given!r}: use one of {', '.join(FORMATS)}")
        return given
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ReadError(f"cannot tell the format of {path.name} from its extension: pass --format "
                        f"({', '.join(FORMATS)})")
    return fmt


def estimate_rows(path: Path, fmt: str) -> int | None:
    """Rows to expect, for the progress bar (lines for text formats, metadata for Parquet)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt in ("csv", "tsv", "jsonl"):
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
        return max(0, lines - (1 if fmt in ("csv", "tsv") else 0))
    return None


def read_rows(path: Path, options: ReadOptions | None = None) -> Iterator[ReplayRow | RowError]:
    """Every record of ``path`` as a row or a row error, in file order."""
    options = options or ReadOptions()
    if not path.is_file():
        raise ReadError(f"{path} does not exist or is not a file")
    fmt = file_format(path, options.format)
    default_source = options.default_source or path.stem
    if fmt == "feed":
        yield from _feed_rows(path, options, default_source)
        return
    records = {"csv": _csv_records, "tsv": _csv_records, "jsonl": _jsonl_records, "json": _json_records,
               "parquet": _parquet_records}[fmt](path, fmt)
    columns = next(records)
    if not isinstance(columns, list):
        raise ReadError(f"{path.name}: no header or first record to detect columns from")
    try:
        mapping = detect_columns(columns, options.explicit)
    except ValueError as exc:
        raise ReadError(f"{path.name}: {exc}") from None
    for number, record in enumerate(records, 1):
        if isinstance(record, RowError):
            yield RowError(number, record.reason, record.detail)
        else:
            yield _tabular_row(number, record, mapping, options.times, default_source, path.name)


def _tabular_row(number: int, record: Mapping[str, Any], mapping: ColumnMap, times: EventTimeReader,
                 default_source: str, file_name: str) -> ReplayRow | RowError:
    value = record.get(mapping.time) if mapping.time else None
    try:
        published, day_only = times.read(value)
    except BadTime as exc:
        return RowError(number, exc.reason, str(exc))
    source_cell = _text(record.get(mapping.source)) if mapping.source else ""
    source, feed = _source(source_cell, default_source, file_name)
    entry = RawEntry(
        title=_text(record.get(mapping.title)) if mapping.title else "",
        summary=_text(record.get(mapping.summary)) if mapping.summary else "",
        link=_text(record.get(mapping.link)) if mapping.link else "",
        guid=_text(record.get(mapping.guid)) if mapping.guid else "",
        date_text=_date_text(value),
        date_value=published,
        lang=(_text(record.get(mapping.lang)) or None) if mapping.lang else None,
        tickers=_tickers(record.get(mapping.ticker)) if mapping.ticker else [],
        title_is_html=False,
    )
    return ReplayRow(number, entry, published, day_only, source, feed)


def _feed_rows(path: Path, options: ReadOptions, source: str) -> Iterator[ReplayRow | RowError]:
    try:
        parsed = parse_body(path.read_bytes(), url=path.resolve().as_uri())
    except NotAFeed as exc:
        raise ReadError(f"{path.name}: {exc.reason}") from None
    for number, entry in enumerate(parsed.entries, 1):
        try:
            published, day_only = options.times.read(entry.date_text)
        except BadTime as exc:
            yield RowError(number, exc.reason, str(exc))
            continue
        entry.date_value = published
        entry.lang = entry.lang or parsed.lang
        yield ReplayRow(number, entry, published, day_only, source, path.name)


def _csv_records(path: Path, fmt: str) -> Iterator[Any]:
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ",")
        yield list(reader.fieldnames or [])
        failures = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                failures += 1
                if failures > MAX_CONSECUTIVE_CSV_ERRORS:
                    raise ReadError(f"{path.name}: gave up after {failures} unreadable lines in a row "
                                    f"(line {reader.line_num}: {exc})") from None
                yield RowError(0, "unreadable", f"CSV error near line {reader.line_num}: {exc}")
                continue
            failures = 0
            yield row


def _jsonl_records(path: Path, fmt: str) -> Iterator[Any]:
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        lines = (line for line in handle if line.strip())
        head: list[Any] = []
        for line in lines:
            head.append(_json_object(line))
            if len(head) >= 50:
                break
        yield list(dict.fromkeys(key for record in head if isinstance(record, dict) for key in record))
        yield from head
        for line in lines:
            yield _json_object(line)


def _json_records(path: Path, fmt: str) -> Iterator[Any]:
    text = path.read_text(encoding="utf-8-sig", errors="replace").lstrip()
    if not text.startswith("["):
        yield from _jsonl_records(path, fmt)
        return
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(f"{path.name}: not valid JSON ({exc})") from None
    yield list(dict.fromkeys(key for item in items[:50] if isinstance(item, dict) for key in item))
    for item in items:
        yield item if isinstance(item, dict) else RowError(0, "unreadable", f"not a JSON object: {item!r:.80}")


def _parquet_records(path: Path, fmt: str) -> Iterator[Any]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    yield list(parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=4096):
        yield from batch.to_pylist()


def _json_object(line: str) -> Any:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return RowError(0, "unreadable", f"not valid JSON: {exc}")
    return value if isinstance(value, dict) else RowError(0, "unreadable", f"not a JSON object: {line[:80]!r}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from Parquet/pandas exports
        return ""
    return str(value)


def _date_text(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = _text(value).strip()
    return text or None


def _tickers(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item).strip().upper() for item in value if str(item).strip()]
    return [part.upper() for part in _text(value).translate(_TICKER_SPLIT).split() if part]


def _source(cell: str, default_source: str, file_name: str) -> tuple[str, str]:
    """``(source, feed)``: a feed URL becomes its host (the feed keeps the URL); empty → the file's source."""
    cell = cell.strip()
    if not cell:
        return default_source, file_name
    if cell.startswith(("http://", "https://")):
        host = urlsplit(cell).hostname or cell
        return host.lower(), cell
    return cell, cell
