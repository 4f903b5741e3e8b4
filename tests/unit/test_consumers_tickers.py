"""Ticker linking: explicit symbols always, watched company names only with context when they are ambiguous."""

from __future__ import annotations

import pytest

from consumers.tickers import TickerLinker, Watchlist


@pytest.fixture(scope="module")
def linker() -> TickerLinker:
    return TickerLinker(Watchlist.load())


def test_shipped_watchlist_covers_fifty_large_companies() -> None:
    watchlist = Watchlist.load()
    assert len(watchlist.companies) >= 50
    assert {"AAPL", "MSFT", "JPM", "XOM", "TGT"} <= {company.ticker for company in watchlist.companies}
    assert watchlist.by_cik[320193].ticker == "AAPL"


@pytest.mark.parametrize(
    ("text", "tickers"),
    [
        ("$TSLA and $aapl and $5 and $US5bn", ["TSLA"]),
        ("Shares of Ford (NYSE: F) rose; NASDAQ:AAPL fell", ["F", "AAPL"]),
        ("Casino sells stores (CASP.PA); Apple supplier (AAPL.O) and Ford (F.N) rise", ["AAPL", "F"]),
        ("Apple pie recipe wins the county fair", []),
        ("Apple shares fall after iPhone sales disappoint", ["AAPL"]),
        ("Apple Inc to open new campus", ["AAPL"]),
        ("Harrison Ford to star in new movie", []),
        ("Target date funds explained for beginners", []),
        ("Target cuts profit forecast as shoppers pull back", ["TGT"]),
        ("Microsoft and JPMorgan team up on cloud banking", ["MSFT", "JPM"]),
        ("Metaverse hype fades", []),
        ("apple and microsoft in lower case", []),
        ("Exxon Mobil Corp beats estimates", ["XOM"]),
    ],
)
def test_linking_rules(linker: TickerLinker, text: str, tickers: list[str]) -> None:
    assert linker.link(text) == tickers


def test_context_can_come_from_the_summary(linker: TickerLinker) -> None:
    assert linker.link("Apple unveils a new gadget", "The company's shares rose 2% in early trading.") == ["AAPL"]
    assert linker.link("Apple unveils a new gadget", "It is shiny and round.") == []
    assert linker.link("Apple crumble", "Bake for 40 minutes; serves four.") == []
