"""Link a story to ticker symbols: cashtags, exchange-qualified symbols, Reuters codes and watched company names.

Ticker windows downstream are only as good as these links, and a false link is worse than a missed one (it
pollutes a company's sentiment with unrelated news). So the rules are deliberately conservative:

- ``$AAPL`` (cashtag, upper case, not a currency such as ``$US``), ``NASDAQ:AAPL`` / ``(NYSE: F)`` and Reuters
  codes for US listings (``(AAPL.O)``, ``(F.N)``) link any symbol: the writer named the listing.
- A company name links only if it is on the watchlist (``settings.watchlist_file``), matched case-sensitively
  on word boundaries ("apple" never links, "Metaverse" does not contain "Meta").
- Aliases marked *ambiguous* (everyday words or people's names: Apple, Target, Ford, Visa, ...) link only with
  evidence in the same text: a corporate suffix right after (``Apple Inc``), the company's own symbol, or a
  finance word within :data:`CONTEXT_CHARS` characters (shares, earnings, CEO, billion, ...), where the title
  and the summary count as one text (a title's context may come from the summary's first words).
  "Apple pie recipe" therefore links nothing, "Apple shares fall" links AAPL.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_WATCHLIST_FILE = Path(__file__).with_name("watchlist.toml")
CONTEXT_CHARS = 80
_SYMBOL = r"[A-Z]{1,5}(?:\.[A-Z]{1,2})?"
_CASHTAG = re.compile(rf"(?<![\w$])\$({_SYMBOL})(?![\w])")
_EXCHANGE = re.compile(
    rf"\b(?:NYSE(?: American| Arca|Arca)?|NASDAQ|Nasdaq(?:GS|GM|CM)?|AMEX|Amex|Cboe|CBOE|BATS|OTC(?:QX|QB)?)"
    rf"\s*:\s*({_SYMBOL})\b"
)
_REUTERS_CODE = re.compile(r"\(([A-Z]{1,5})\.(?:O|N|OQ|K|A|P)\)")
_CURRENCIES = frozenset({"US", "USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "NT", "C", "A", "NZ", "HK", "S"})
_SUFFIX = re.compile(r"\s*,?\s*(?:Inc\b|Corp\b|Corporation\b|Co\b|Company\b|Ltd\b|LLC\b|plc\b|Group\b|Holdings\b)")
_FINANCE = re.compile(
    r"\b(?:shares?|stocks?|earnings|revenues?|profits?|quarter(?:ly)?|investors?|analysts?|CEO|CFO|chief executive"
    r"|market (?:value|cap)|valuation|dividends?|IPO|acquisitions?|acquires?|acquired|mergers?|deal|lawsuits?|sues?"
    r"|sued|antitrust|regulators?|guidance|forecasts?|sales|buybacks?|stake|layoffs?|results|Nasdaq|NYSE"
    r"|Wall Street|downgraded?|upgraded?|price target|billion|million|trillion|bonds?|debt|tariffs?|recall"
    r"|shareholders?|stock market|S&P 500|Dow)\b",
    re.IGNORECASE,
)


class WatchlistError(ValueError):
    """The watchlist file is unreadable or malformed; the message names the file and entry."""


@dataclass(frozen=True)
class Company:
    ticker: str
    name: str
    aliases: tuple[str, ...]
    ambiguous: frozenset[str] = frozenset()
    cik: int | None = None


@dataclass
class Watchlist:
    companies: list[Company]
    by_alias: dict[str, Company] = field(init=False)
    by_cik: dict[int, Company] = field(init=False)
    alias_pattern: re.Pattern[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self.by_alias = {}
        for company in self.companies:
            for alias in (company.name, *company.aliases):
                self.by_alias.setdefault(alias, company)
        self.by_cik = {company.cik: company for company in self.companies if company.cik is not None}
        names = sorted(self.by_alias, key=len, reverse=True)
        alternation = "|".join(re.escape(name) for name in names)
        self.alias_pattern = re.compile(rf"(?<![A-Za-z0-9])({alternation})(?![A-Za-z0-9])") if names else None

    @classmethod
    def load(cls, path: Path | None = None) -> Watchlist:
        path = path or DEFAULT_WATCHLIST_FILE
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise WatchlistError(f"watchlist {path} cannot be read: {exc}") from exc
        companies = []
        for index, entry in enumerate(raw.get("company", [])):
            try:
                companies.append(
                    Company(
                        ticker=str(entry["ticker"]).upper(),
                        name=str(entry["name"]),
                        aliases=tuple(str(alias) for alias in entry.get("aliases", [])),
                        ambiguous=frozenset(str(alias) for alias in entry.get("ambiguous", [])),
                        cik=int(entry["cik"]) if "cik" in entry else None,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise WatchlistError(f"watchlist {path}: company #{index + 1} is missing or has a bad {exc}") from exc
        return cls(companies)


class TickerLinker:
    """Find the tickers a story is about; see the module docstring for the rules."""

    def __init__(self, watchlist: Watchlist | None = None) -> None:
        self.watchlist = watchlist or Watchlist([])

    def link(self, *texts: str) -> list[str]:
        found: list[str] = []
        for text in texts:
            if text:
                self._explicit_symbols(text, found)
        self._company_names(" | ".join(text for text in texts if text), found)
        return found

    def for_cik(self, cik: int) -> str | None:
        company = self.watchlist.by_cik.get(cik)
        return company.ticker if company else None

    @staticmethod
    def _explicit_symbols(text: str, found: list[str]) -> None:
        for match in _CASHTAG.finditer(text):
            if match.group(1) not in _CURRENCIES:
                _add(found, match.group(1))
        for pattern in (_EXCHANGE, _REUTERS_CODE):
            for match in pattern.finditer(text):
                _add(found, match.group(1))

    def _company_names(self, text: str, found: list[str]) -> None:
        pattern = self.watchlist.alias_pattern
        if pattern is None:
            return
        for match in pattern.finditer(text):
            alias = match.group(1)
            company = self.watchlist.by_alias[alias]
            if alias in company.ambiguous and not self._has_context(text, match, company, found):
                continue
            _add(found, company.ticker)

    @staticmethod
    def _has_context(text: str, match: re.Match[str], company: Company, found: list[str]) -> bool:
        if company.ticker in found or _SUFFIX.match(text, match.end()):
            return True
        window = text[max(0, match.start() - CONTEXT_CHARS): match.end() + CONTEXT_CHARS]
        return _FINANCE.search(window) is not None


def _add(found: list[str], ticker: str) -> None:
    if ticker not in found:
        found.append(ticker)
