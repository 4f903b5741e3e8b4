"""Every company name Bearwatch can link, in one token trie: the watchlist, brand names and the SEC table.

A story is scanned once, token by token, against a trie of lower-case alias token sequences (the Aho-Corasick
idea on word tokens: one dict lookup per token and step, whatever the number of names), so linking with the
full SEC table (~8,000 companies, ~15,000 aliases) costs about the same as with fifty.

Each alias carries a *tier*, the evidence it needs to link (see :mod:`consumers.tickers`):

==========  =================================================================================================
``SURE``    links on sight: watchlist aliases (exact case), brand aliases, distinctive multi-word SEC names
``CONTEXT`` needs a legal suffix, the company's own symbol or a finance/company word nearby: watchlist
            "ambiguous" aliases, one-word SEC names, short forms ("Palo Alto"), names of everyday words
``STRICT``  as CONTEXT but within a tighter window of the same sentence part: one everyday word ("Signature")
==========  =================================================================================================

Precedence: the watchlist (curated) first, then brand names, then SEC rows in the table's order (largest
companies first), so an alias two companies share goes to the curated or the larger one. Brand names of a CIK
the table does not list (delisted since) still name the company for the ``entity`` scope, with no ticker. A CIK on the
watchlist takes no SEC aliases (the watchlist says exactly how that company is named).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from consumers.aliases import CONNECTORS, Alias, aliases_from_title, entity_name, everyday_words, tokens
from consumers.sec_table import SecRow
from consumers.watchlist import Company

log = logging.getLogger(__name__)
BRANDS_FILE = Path(__file__).with_name("brands.toml")
SURE, CONTEXT, STRICT = 0, 1, 2
END = ""  # trie key of a node's entries (no token is empty)
ACRONYM_MAX = 4


@dataclass(frozen=True)
class AliasEntry:
    """One way of naming ``company``: ``exact`` = the written tokens must match case-sensitively."""

    company: Company
    tier: int
    exact: tuple[str, ...] | None = None
    acronym: bool = False
    short: bool = False

    def shape_ok(self, written: list[str]) -> bool:
        """Do the text's tokens look like this name (case, capitals, acronym)?"""
        if self.exact is not None:
            return tuple(written) == self.exact
        if self.acronym:
            return written[0].isupper()
        return all(w.lower() in CONNECTORS or w[0].isupper() or w[0].isdigit() for w in written)


@dataclass
class CompanyIndex:
    """The trie plus lookups by CIK and by symbol."""

    trie: dict = field(default_factory=dict)
    by_cik: dict[int, Company] = field(default_factory=dict)
    by_ticker: dict[str, Company] = field(default_factory=dict)
    aliases: int = 0

    def add(self, key: tuple[str, ...], entry: AliasEntry) -> None:
        node = self.trie
        for token in key:
            node = node.setdefault(token, {})
        if END in node:
            return  # first (curated / larger) company keeps a shared alias
        node[END] = entry
        self.aliases += 1

    @classmethod
    def build(cls, watchlist: list[Company], rows: list[SecRow] | None = None,
              brands_file: Path | None = BRANDS_FILE) -> CompanyIndex:
        index = cls()
        for company in watchlist:
            index._add_company(company)
            for alias in (company.name, *company.aliases):
                written = tuple(tokens(alias))
                if written:
                    tier = CONTEXT if alias in company.ambiguous else SURE
                    index.add(tuple(t.lower() for t in written), AliasEntry(company, tier, exact=written))
        brands = load_brands(brands_file) if brands_file else {}
        for row in rows or ():
            index._add_sec_row(row, brands)
        index._add_unlisted_brands(brands)
        return index

    def _add_unlisted_brands(self, brands: dict[int, tuple[list[str], frozenset[str]]]) -> None:
        """Brands whose CIK this table does not list (delisted, like SVB in 2026) still name an entity, no ticker."""
        for cik, (aliases, ambiguous) in brands.items():
            if cik in self.by_cik or aliases == ["-"] or not aliases:
                continue
            company = Company(ticker="", name=aliases[0], aliases=tuple(aliases), cik=None,
                              entity=entity_name(aliases[0]))
            for brand in aliases:
                written = tokens(brand)
                if written:
                    key = tuple(t.lower() for t in written)
                    acronym = len(key) == 1 and len(key[0]) <= ACRONYM_MAX and brand.isupper()
                    self.add(key, AliasEntry(company, CONTEXT if brand in ambiguous else SURE, acronym=acronym))

    def _add_company(self, company: Company) -> None:
        if company.cik is not None:
            self.by_cik.setdefault(company.cik, company)
        self.by_ticker.setdefault(normal_symbol(company.ticker), company)

    def _add_sec_row(self, row: SecRow, brands: dict[int, tuple[list[str], frozenset[str]]]) -> None:
        symbol = normal_symbol(row.ticker)
        known = self.by_cik.get(row.cik)
        if known is not None:  # another share class of a company already indexed: the symbol is its
            self.by_ticker.setdefault(symbol, known)
            return
        _, aliases = aliases_from_title(row.title)
        canonical = entity_name(row.title)
        if row.cik in brands and brands[row.cik][0] == ["-"]:
            self.by_ticker.setdefault(symbol, Company(row.ticker, row.title, (), cik=row.cik, entity=""))
            return  # names of this CIK never link (brands.toml: aliases = ["-"])
        brand_aliases, ambiguous = brands.get(row.cik, ([], frozenset()))
        if brand_aliases:
            canonical = entity_name(brand_aliases[0]) or canonical
        if not canonical:
            return
        company = Company(ticker=row.ticker, name=row.title, aliases=tuple(brand_aliases), cik=row.cik,
                          entity=canonical)
        self._add_company(company)
        for brand in brand_aliases:
            written = tokens(brand)
            if written:
                key = tuple(t.lower() for t in written)
                acronym = len(key) == 1 and len(key[0]) <= ACRONYM_MAX and brand.isupper()
                self.add(key, AliasEntry(company, CONTEXT if brand in ambiguous else SURE, acronym=acronym))
        for alias in aliases:
            self.add(alias.key, AliasEntry(company, sec_tier(alias), acronym=_acronym(alias), short=alias.short))


def sec_tier(alias: Alias) -> int:
    """Evidence an SEC-derived alias needs (module docstring)."""
    if len(alias.key) == 1:
        return STRICT if alias.everyday else CONTEXT
    if alias.short or alias.everyday:
        return CONTEXT
    return SURE


def _acronym(alias: Alias) -> bool:
    return len(alias.key) == 1 and len(alias.key[0]) <= ACRONYM_MAX and alias.key[0] not in everyday_words()


def normal_symbol(symbol: str) -> str:
    """``BRK.B``, ``BRK-B`` and ``brk/b`` are one symbol."""
    return symbol.upper().replace(".", "-").replace("/", "-")


def load_brands(path: Path) -> dict[int, tuple[list[str], frozenset[str]]]:
    """``{cik: (aliases, ambiguous)}`` from the brands file; a bad file is logged and ignored (brands are extras)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return {
            int(entry["cik"]): ([str(a) for a in entry["aliases"]],
                                frozenset(str(a) for a in entry.get("ambiguous", [])))
            for entry in raw.get("brand", [])
        }
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        log.warning("brand names %s not used: %s", path, exc)
        return {}
