"""Build the ticker linker every consumer path uses (live service, replay, backtest, ``feeds check``) from settings.

One function, so a live run and a backtest link with the same watchlist, brand names and SEC table: the
watchlist from ``settings.watchlist_file``; the SEC table from ``settings.sec_tickers_file`` (default: see
:func:`consumers.sec_table.default_table`), or the dated snapshot for ``settings.tickers_asof``. A missing
table is not fatal: linking falls back to the watchlist and explicit symbols, and says so once in the log.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from consumers.sec_table import SHARED_DIR, SecRow, default_table, load_table, snapshot_for, updated_dir
from consumers.tickers import TickerLinker
from consumers.watchlist import Watchlist
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)


def table_path(settings: Settings) -> Path | None:
    """The SEC table file this configuration links with (``None``: linking by watchlist only)."""
    if not settings.sec_linking:
        return None
    table = default_table(settings)
    if table is None:
        return None
    return snapshot_for(table, settings.tickers_asof, extra_dirs=(updated_dir(settings), SHARED_DIR))


def build_linker(settings: Settings) -> TickerLinker:
    """The linker for ``settings``; raises ``WatchlistError``/``SecTableError`` (one line) on a bad file."""
    watchlist = Watchlist.load(settings.watchlist_file)
    path = table_path(settings)
    if path is None:
        if settings.sec_linking:
            log.warning("no SEC tickers table found: linking watchlist companies only "
                        "(run `bearwatch tickers update` or set BEARWATCH_SEC_TICKERS_FILE)")
        return TickerLinker(watchlist)
    rows = _cached_rows(path, path.stat().st_mtime_ns)
    linker = TickerLinker(watchlist, rows)
    log.info("linking with %s: %d companies, %d names", path, len(linker.index.by_cik), linker.index.aliases)
    return linker


@lru_cache(maxsize=4)
def _cached_rows(path: Path, mtime_ns: int) -> list[SecRow]:
    return load_table(path)
