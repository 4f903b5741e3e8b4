"""SEC EDGAR "latest filings" Atom feeds: which company filed what, linked to a ticker by its CIK.

EDGAR titles read ``8-K - APPLE INC (0000320193) (Filer)``. The company name there is the legal name in capitals,
so name matching would be unreliable; the CIK in brackets is exact, and the watchlist carries each company's CIK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consumers.tickers import TickerLinker

_TITLE = re.compile(r"^(?P<form>.+?) - (?P<company>.+?) \((?P<cik>\d{4,10})\)(?: \((?P<role>[^)]*)\))?\s*$")


@dataclass(frozen=True)
class Filing:
    form: str
    company: str
    cik: int
    role: str


def parse_filing_title(title: str) -> Filing | None:
    match = _TITLE.match(title.strip())
    if match is None:
        return None
    return Filing(match["form"], match["company"], int(match["cik"]), match["role"] or "")


def filing_tickers(title: str, linker: TickerLinker) -> list[str]:
    filing = parse_filing_title(title)
    if filing is None:
        return []
    ticker = linker.for_cik(filing.cik)
    return [ticker] if ticker else []


def is_edgar_url(url: str) -> bool:
    return "sec.gov/cgi-bin/browse-edgar" in url
