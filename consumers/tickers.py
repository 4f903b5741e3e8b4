"""Link a story to ticker symbols: cashtags, exchange-qualified symbols, Reuters codes and company names.

Ticker windows downstream are only as good as these links, and a false link is worse than a missed one (it
pollutes a company's sentiment with unrelated news). So the rules are deliberately conservative:

- ``NASDAQ:AAPL`` / ``(NYSE: F)`` and Reuters codes for US listings (``(AAPL.O)``, ``(F.N)``) link any symbol:
  the writer named the listing. A cashtag (``$AAPL``, upper case, not a currency such as ``$US``) links only a
  symbol that exists (in the SEC table, or on the watchlist when no table is loaded): ``$FJB`` links nothing.
- Company names come from :class:`~consumers.company_index.CompanyIndex`: the watchlist (exact case), brand
  names and every SEC-listed company (capitalised spelling), matched on word tokens ("Metaverse" does not
  contain "Meta", "apple" never links). Each name has a tier:
  ``SURE`` names link on sight; ``CONTEXT`` names (the watchlist's "ambiguous" ones such as Apple or Target,
  one-word SEC names) need a corporate suffix right after (``Apple Inc``), the company's own symbol, or a finance
  or company word within :data:`CONTEXT_CHARS` characters (shares, earnings, CEO, billion, lender, ...), where
  the title and the summary count as one text; ``STRICT`` names (one everyday word: "Signature") need a suffix,
  their symbol, or a finance word right next to them ("Signature shares", "shares of Signature").
- Incidental mentions never link: a name only in the summary (or tags) needs the same evidence as a ``CONTEXT``
  name; a name used to describe a person ("Microsoft co-founder Paul Allen", "former Google engineer") or named
  as a source ("Thomson Reuters data", "Markit index") links nothing, wherever it is.

"Apple pie recipe" therefore links nothing, "Apple shares fall" links AAPL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consumers.aliases import TOKEN
from consumers.company_index import CONTEXT, END, STRICT, SURE, AliasEntry, CompanyIndex, normal_symbol
from consumers.sec_table import SecRow
from consumers.watchlist import DEFAULT_WATCHLIST_FILE, Company, Watchlist, WatchlistError

__all__ = ["DEFAULT_WATCHLIST_FILE", "Company", "Links", "TickerLinker", "Watchlist", "WatchlistError"]

CONTEXT_CHARS = 80
MAX_NAME_TOKENS = 8
_SYMBOL = r"[A-Z]{1,5}(?:\.[A-Z]{1,2})?"
_CASHTAG = re.compile(rf"(?<![\w$])\$({_SYMBOL})(?![\w])")
_EXCHANGE = re.compile(
    rf"\b(?:NYSE(?: American| Arca|Arca)?|NASDAQ|Nasdaq(?:GS|GM|CM)?|AMEX|Amex|Cboe|CBOE|BATS|OTC(?:QX|QB)?)"
    rf"\s*:\s*({_SYMBOL})\b"
)
_REUTERS_CODE = re.compile(r"\(([A-Z]{1,5})\.(?:O|N|OQ|K|A|P)\)")
_CURRENCIES = frozenset({"US", "USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "NT", "C", "A", "NZ", "HK", "S"})
_SUFFIX = re.compile(
    r"\s*,?\s*(?:Inc\b|Corp\b|Corporation\b|Co\b|Company\b|Ltd\b|LLC\b|plc\b|PLC\b|Group\b|Holdings\b|AG\b|SE\b"
    r"|N\.?V\.?(?!\w)|S\.?A\.?(?!\w))"
)
_FINANCE = re.compile(
    r"\b(?:shares?|stocks?|earnings|revenues?|profits?|quarter(?:ly)?|investors?|analysts?|CEO|CFO|chief executive"
    r"|market (?:value|cap)|valuation|dividends?|IPO|acquisitions?|acquires?|acquired|mergers?|deal|lawsuits?|sues?"
    r"|sued|antitrust|regulators?|guidance|forecasts?|sales|buybacks?|stake|layoffs?|results|Nasdaq|NYSE"
    r"|Wall Street|downgraded?|upgraded?|price target|billion|million|trillion|bonds?|debt|tariffs?|recall"
    r"|shareholders?|stock market|S&P 500|Dow"
    r"|firms?|company|companies|makers?|giant|lenders?|insurers?|retailers?|carriers?|airlines?|rivals?|chipmaker"
    r"|automaker|carmaker|drugmaker|conglomerate|bankrupt(?:cy)?|deposits?|rating|Moody's|Fitch)\b",
    re.IGNORECASE,
)
_PERSON_AFTER = re.compile(
    r"(?:['’]s)?[\s-]*(?:co-?founders?|founders?|heirs?|heiress|alumn(?:us|i)|veterans?|alums?)\b", re.IGNORECASE
)
_ADJACENT_AFTER = re.compile(
    r"(?:['’]s)?\s+(?:shares?|stock|profits?|earnings|revenues?|sales|CEO|chief executive|results|quarterly|posts"
    r"|reports|shareholders|stake|bonds?|deposits|IPO)\b",
    re.IGNORECASE,
)
_ADJACENT_BEFORE = re.compile(r"\b(?:shares (?:of|in)|stake in|bid for|takeover of|lender|bank|insurer)\s+$",
                              re.IGNORECASE)
_SOURCE_AFTER = re.compile(
    r"\s*(?:(?:data|survey|poll|I/B/E/S|StarMine|Lipper|LPC|estimates?|calculations?|index|indices|service|report)\b"
    r"|News\s*&)",
    re.IGNORECASE,
)
_SAYS_AT_END = re.compile(r"\s*(?:(?:says|said|reports|reported)\s*)?(?:\||$)", re.IGNORECASE)
_PREVIOUS_NAME_WORD = re.compile(r"(?<![.!?:|\-–—]\s)(?<!^)\b[A-Z][\w&'’]*\s+$")
LEAD_CHARS = 150
_NEXT_NAME_WORD = re.compile(r"\s+(?!(?:Inc|Corp|Co|Ltd|LLC|plc|PLC|Group|Holdings|AG|SE|NV|SA)\b)[A-Z][a-z]")
_ATTRIBUTION_BEFORE = re.compile(r"(?:,|;|\s[-–—])\s*$")
_PERSON_BEFORE = re.compile(r"\b(?:former|ex)[\s-]+$", re.IGNORECASE)
_SOURCE_BEFORE = re.compile(
    r"\b(?:according to|(?:data|poll|survey|figures|estimates) (?:from|by)|told)\s+(?:the\s+)?$", re.IGNORECASE
)


@dataclass(frozen=True)
class Links:
    """What linking found: ticker symbols (in order of appearance) and the named companies behind them."""

    tickers: list[str]
    companies: list[Company]
    title_spans: list[tuple[int, int]]


class TickerLinker:
    """Find the tickers a story is about; see the module docstring for the rules.

    Example::

        linker = TickerLinker(Watchlist.load(), load_table(path))
        linker.link("Apple shares fall", "summary ...")   # ['AAPL']
    """

    def __init__(self, watchlist: Watchlist | None = None, table: list[SecRow] | None = None) -> None:
        self.watchlist = watchlist or Watchlist([])
        self.index = CompanyIndex.build(self.watchlist.companies, table)
        self.has_table = bool(table)

    def link(self, *texts: str) -> list[str]:
        """Tickers of ``texts``: the title first, then the secondary texts (summary, tags)."""
        return self.links(*texts).tickers

    def links(self, *texts: str) -> Links:
        found: list[str] = []
        companies: list[Company] = []
        for text in texts:
            if text:
                self._explicit_symbols(text, found, companies)
        title = texts[0] if texts else ""
        joined = " | ".join(text for text in texts if text)
        spans = self._company_names(joined, len(title) if title else 0, found, companies)
        return Links(found, companies, spans)

    def for_cik(self, cik: int) -> str | None:
        company = self.index.by_cik.get(cik)
        return company.ticker if company else None

    def company(self, ticker: str) -> Company | None:
        return self.index.by_ticker.get(normal_symbol(ticker))

    def _explicit_symbols(self, text: str, found: list[str], companies: list[Company]) -> None:
        if "$" in text:  # the cheap membership tests skip the regular expressions for most stories
            for match in _CASHTAG.finditer(text):
                symbol = match.group(1)
                if symbol not in _CURRENCIES and normal_symbol(symbol) in self.index.by_ticker:
                    self._add(found, companies, symbol)
        if ":" in text:
            for match in _EXCHANGE.finditer(text):
                self._add(found, companies, match.group(1))
        if "(" in text:
            for match in _REUTERS_CODE.finditer(text):
                self._add(found, companies, match.group(1))

    def _add(self, found: list[str], companies: list[Company], ticker: str, company: Company | None = None) -> None:
        if not ticker:  # a brand the table does not list: an entity, not a ticker
            if company is not None and company not in companies:
                companies.append(company)
            return
        if ticker not in found:
            found.append(ticker)
            company = company or self.index.by_ticker.get(normal_symbol(ticker))
            if company is not None and company not in companies:
                companies.append(company)

    def _company_names(self, text: str, title_end: int, found: list[str],
                       companies: list[Company]) -> list[tuple[int, int]]:
        words = TOKEN.findall(text)
        lowered = TOKEN.findall(text.lower())
        if len(lowered) != len(words):  # a character whose lower case is two (rare): lower word by word
            lowered = [word.lower() for word in words]
        trie = self.index.trie
        spans: list[tuple[int, int]] | None = None
        title_spans: list[tuple[int, int]] = []
        secondary: list[tuple[AliasEntry, int, int]] = []
        i, count = 0, len(words)
        while i < count:
            node = trie.get(lowered[i])
            if node is None:
                i += 1
                continue
            hit = self._longest(node, words, lowered, i)
            if hit is None:
                i += 1
                continue
            entry, j = hit
            if spans is None:
                spans = [match.span() for match in TOKEN.finditer(text)]
            start, end = spans[i][0], spans[j][1]
            i = j + 1
            if start >= title_end:
                secondary.append((entry, start, end))
            elif self._accept(entry, text, start, end, title_end, found, entry.tier):
                self._add(found, companies, entry.company.ticker, entry.company)
                title_spans.append((start, end))
        for entry, start, end in secondary:
            if self._accept(entry, text, start, end, title_end, found, max(entry.tier, CONTEXT), secondary=True):
                self._add(found, companies, entry.company.ticker, entry.company)
        return title_spans

    @staticmethod
    def _longest(node: dict, words: list[str], lowered: list[str], i: int) -> tuple[AliasEntry, int] | None:
        """The longest name starting at token ``i`` (whose trie ``node`` is given) that fits, and its last token."""
        hits: list[tuple[AliasEntry, int]] = []
        j = i
        while True:
            entry = node.get(END)
            if entry is not None:
                hits.append((entry, j))
            j += 1
            if j >= len(words) or j - i >= MAX_NAME_TOKENS:
                break
            child = node.get(lowered[j])
            if child is None:
                break
            node = child
        for entry, last in reversed(hits):
            if entry.shape_ok(words[i:last + 1]):
                return entry, last
        return None

    @staticmethod
    def _accept(entry: AliasEntry, text: str, start: int, end: int, title_end: int, found: list[str], tier: int,
                secondary: bool = False) -> bool:
        if (_PERSON_AFTER.match(text, end) or _PERSON_BEFORE.search(text, max(0, start - 8), start)
                or _SOURCE_AFTER.match(text, end) or _SOURCE_BEFORE.search(text, max(0, start - 24), start)
                or _attribution(text, start, end)):
            return False
        if entry.short and _NEXT_NAME_WORD.match(text, end):
            return False  # "Motorola Mobility" is not "Motorola Solutions"
        if entry.exact is None and entry.tier != SURE and _part_of_longer_name(text, start):
            return False  # "First Republic" is not "Republic Bancorp"
        if tier == SURE or entry.company.ticker in found:
            return True
        if _SUFFIX.match(text, end) and (not secondary or start - title_end <= LEAD_CHARS):
            return True  # in a summary only in its lead: "... selling the Apple Inc iPhone" is incidental
        if tier == STRICT:
            return bool(_ADJACENT_AFTER.match(text, end) or _ADJACENT_BEFORE.search(text, max(0, start - 20), start))
        window = text[max(0, start - CONTEXT_CHARS): end + CONTEXT_CHARS]
        return _FINANCE.search(window) is not None


def _attribution(text: str, start: int, end: int) -> bool:
    """``"..., NYT says"`` / ``"... - Thomson Reuters"`` at the end of a part: the name is the source."""
    return bool(_SAYS_AT_END.match(text, end) and _ATTRIBUTION_BEFORE.search(text, max(0, start - 3), start))


def _part_of_longer_name(text: str, start: int) -> bool:
    """A capitalised word right before, not starting a sentence or part ("Silicon Valley", "First Republic")."""
    before = text[max(0, start - 40):start]
    match = _PREVIOUS_NAME_WORD.search(before)
    if match is None:
        return False
    preceding = before[:match.start()].rstrip()
    return bool(preceding) and preceding[-1] not in ".!?:|-–—" and not before[:match.start()].endswith("* ")
