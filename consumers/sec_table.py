"""The SEC's company tickers table (``company_tickers.json``): reading it, and picking the snapshot for a date.

The table (CIK, ticker, title per listed security; U.S. government data) is what lets Bearwatch link every
listed company, not only the curated watchlist. It is read at start-up from a file, never copied into the
repository: by default the copy ``bearwatch tickers update`` keeps under ``var_dir/reference/``, else the one
shipped beside the project in ``../shared/data/reference/sec_company_tickers/``.

The table lists only current tickers, and tickers get reused (BNY, CS), so a backtest of 2023 news needs a 2023
table. Dated snapshots sit beside the table as ``company_tickers_YYYY[-MM[-DD]].json``; :func:`snapshot_for`
picks the newest one on or before a day (``settings.tickers_asof``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from monitor.ground.errors import BearwatchError
from monitor.ground.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
TABLE_NAME = "company_tickers.json"
SHARED_DIR = PROJECT_ROOT.parent / "shared" / "data" / "reference" / "sec_company_tickers"
MAX_TABLE_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
_SNAPSHOT = re.compile(r"^company_tickers_(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?\.json$")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,9}$")


class SecTableError(ValueError, BearwatchError):
    """The table file is missing, too big or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class SecRow:
    """One listed security. Several rows can share a CIK (share classes, preferreds, warrants)."""

    cik: int
    ticker: str
    title: str


def updated_dir(settings: Settings) -> Path:
    """Where ``bearwatch tickers update`` writes the table and its dated snapshots."""
    return settings.var_dir / "reference" / "sec_company_tickers"


def default_table(settings: Settings) -> Path | None:
    """The configured table, else the updated copy under var/, else the shared copy; ``None`` if none exists."""
    if settings.sec_tickers_file is not None:
        return settings.sec_tickers_file
    for folder in (updated_dir(settings), SHARED_DIR):
        if (folder / TABLE_NAME).is_file():
            return folder / TABLE_NAME
    return None


def snapshot_date(path: Path) -> date | None:
    """The day a snapshot file is of, from its name (``company_tickers_2023.json`` -> 2023-01-01)."""
    match = _SNAPSHOT.match(path.name)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def snapshot_for(table: Path, asof: date | None, extra_dirs: tuple[Path, ...] = ()) -> Path:
    """The dated snapshot beside ``table`` (or in ``extra_dirs``) newest on or before ``asof``.

    ``asof=None`` gives ``table`` itself. With no snapshot on or before ``asof``, the oldest snapshot is the
    nearest in time and is used (logged); with no dated snapshot at all, ``table``.
    """
    if asof is None:
        return table
    dated = sorted(
        (day, path)
        for folder in {table.parent, *extra_dirs}
        if folder.is_dir()
        for path in folder.glob("company_tickers_*.json")
        if (day := snapshot_date(path)) is not None
    )
    if not dated:
        log.warning("no dated SEC snapshot beside %s: linking %s news with the current table", table, asof)
        return table
    before = [path for day, path in dated if day <= asof]
    if before:
        return before[-1]
    log.warning("no SEC snapshot on or before %s: using the oldest, %s", asof, dated[0][1].name)
    return dated[0][1]


def parse_table(raw: bytes, source: str) -> list[SecRow]:
    """Rows of the SEC JSON (``{"0": {"cik_str": .., "ticker": .., "title": ..}, ...}``), file order kept."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SecTableError(f"SEC tickers table {source} is not JSON ({exc}): download it again") from None
    if not isinstance(data, dict):
        raise SecTableError(f"SEC tickers table {source}: expected a JSON object keyed '0', '1', ...")
    if len(data) > MAX_ROWS:
        raise SecTableError(f"SEC tickers table {source} has {len(data)} rows (more than {MAX_ROWS})")
    rows: list[SecRow] = []
    for key, entry in sorted(data.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 1 << 62):
        try:
            ticker = str(entry["ticker"]).strip().upper()
            row = SecRow(int(entry["cik_str"]), ticker, " ".join(str(entry["title"]).split()))
        except (KeyError, TypeError, ValueError):
            raise SecTableError(f"SEC tickers table {source}: row {key!r} lacks cik_str/ticker/title") from None
        if _TICKER.match(ticker) and row.title:
            rows.append(row)
    if not rows:
        raise SecTableError(f"SEC tickers table {source} has no usable rows")
    return rows


def load_table(path: Path) -> list[SecRow]:
    """Read and parse a table file (bounded size); raises :class:`SecTableError` with a one-line reason."""
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise SecTableError(f"SEC tickers table {path} is {size} bytes (limit {MAX_TABLE_BYTES})")
        raw = path.read_bytes()
    except OSError as exc:
        raise SecTableError(
            f"SEC tickers table {path} cannot be read ({exc.strerror}): run `bearwatch tickers update` or set "
            "BEARWATCH_SEC_TICKERS_FILE"
        ) from None
    return parse_table(raw, str(path))
