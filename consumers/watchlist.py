"""The curated watchlist (``watchlist.toml``): the high-precision layer of company linking.

Each company has a ticker, its legal name, aliases matched case-sensitively, the aliases that are everyday words
or people's names (``ambiguous``: they link only with finance context) and its SEC CIK. The watchlist wins over
the SEC table for its companies. :class:`Company` is also the type every other layer (brands, SEC rows) builds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from consumers.aliases import entity_name
from monitor.ground.errors import BearwatchError

DEFAULT_WATCHLIST_FILE = Path(__file__).with_name("watchlist.toml")


class WatchlistError(ValueError, BearwatchError):
    """The watchlist file is unreadable or malformed; the message names the file and entry."""


@dataclass(frozen=True)
class Company:
    """A listed company. ``entity`` is its name in the ``entity`` window scope (lower case, no legal suffix)."""

    ticker: str
    name: str
    aliases: tuple[str, ...]
    ambiguous: frozenset[str] = frozenset()
    cik: int | None = None
    entity: str = ""

    def __post_init__(self) -> None:
        if not self.entity:
            object.__setattr__(self, "entity", entity_name(self.name))


@dataclass
class Watchlist:
    companies: list[Company]
    by_alias: dict[str, Company] = field(init=False)
    by_cik: dict[int, Company] = field(init=False)

    def __post_init__(self) -> None:
        self.by_alias = {}
        for company in self.companies:
            for alias in (company.name, *company.aliases):
                self.by_alias.setdefault(alias, company)
        self.by_cik = {company.cik: company for company in self.companies if company.cik is not None}

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
