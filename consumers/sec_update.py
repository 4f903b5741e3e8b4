"""``bearwatch tickers update``: fetch the SEC's current company tickers table, keep it and a dated copy.

The download goes through the one HTTP policy (:mod:`monitor.ground.httpfetch`: size cap, total deadline, checked
redirects) with Bearwatch's User-Agent (the SEC asks automated clients to name themselves). The answer is parsed
before anything is written, and written atomically, so a failed or garbled download never replaces a good table.
Besides ``company_tickers.json`` a copy named ``company_tickers_<today>.json`` is kept: over time these give the
point-in-time snapshots that ``settings.tickers_asof`` picks from for backtests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from consumers.sec_table import MAX_TABLE_BYTES, TABLE_NAME, SecTableError, parse_table, updated_dir
from monitor.ground.errors import BearwatchError
from monitor.ground.httpfetch import FetchFailure, FetchLimits, exchange, guarded_client
from monitor.ground.settings import Settings

SEC_URL = "https://www.sec.gov/files/company_tickers.json"
TIMEOUT_S = 60.0


class UpdateError(RuntimeError, BearwatchError):
    """The table could not be refreshed; ``str()`` is one line naming the cause and the fix."""


@dataclass(frozen=True)
class UpdateResult:
    path: Path
    snapshot: Path
    rows: int
    companies: int


async def update_table(settings: Settings, url: str = SEC_URL, folder: Path | None = None) -> UpdateResult:
    """Download ``url``, check it parses as the SEC table, then write it and today's snapshot into ``folder``."""
    folder = folder or updated_dir(settings)
    limits = FetchLimits(max_body_bytes=MAX_TABLE_BYTES, total_timeout_s=TIMEOUT_S,
                         private_addresses=settings.private_addresses)
    async with guarded_client(headers={"User-Agent": settings.user_agent, "Accept": "application/json"}) as client:
        try:
            answer = await exchange(client, "GET", url, limits)
        except FetchFailure as exc:
            raise UpdateError(f"cannot download the SEC tickers table ({exc.kind}: {exc}); offline? The current "
                              "table stays in use") from None
    if answer.status != 200:
        raise UpdateError(f"the SEC answered HTTP {answer.status} {answer.reason} for the tickers table; "
                          "try again later (the current table stays in use)")
    try:
        rows = parse_table(answer.body, "download")
    except SecTableError as exc:
        raise UpdateError(f"{exc}; the current table stays in use") from None
    folder.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date().isoformat()
    path, snapshot = folder / TABLE_NAME, folder / f"company_tickers_{today}.json"
    for target in (snapshot, path):
        temporary = target.with_suffix(".json.tmp")
        temporary.write_bytes(answer.body)
        os.replace(temporary, target)
    return UpdateResult(path, snapshot, len(rows), len({row.cik for row in rows}))
