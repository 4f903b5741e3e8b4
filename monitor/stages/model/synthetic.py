"""Company-report sentences with a known direction, written from templates, as extra sentiment training rows.

Why: the tweet-trained model reads results and order news backwards or not at all: "net loss narrowed" scored
negative at p 0.96 and "won a EUR 28 million order" neutral, although an investor reads both as good news (the
convention of financial sentiment sets such as the Financial PhraseBank). Neither the tweets nor the lexicon-labelled
headlines hold enough such sentences. These templates state the convention directly — a narrowing loss, a won order,
rising sales are positive; a widening loss, a lost contract, falling sales negative; calendar, appointment and
description sentences neutral — with company names from the SEC company table, varied amounts, currencies and
periods, so the model learns the direction words rather than one phrasing. Written from the convention, not from any
evaluation set.

    python -m monitor.stages.model.synthetic --out var/synthetic.csv --per-class 600
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from monitor.stages.model.weak_labels import WeakSet, write_csv

COMPANIES_FILE = (Path(__file__).resolve().parents[4] / "shared" / "data" / "reference" / "sec_company_tickers"
                  / "company_tickers.json")
FALLBACK_COMPANIES = ("Acme Corp", "Nordic Paper", "Baltic Shipping", "Helios Energy", "Orion Bank", "Vega Foods")

CURRENCIES = ("EUR", "USD", "$", "GBP", "SEK", "EUR")
PERIODS = ("in the third quarter", "in the first half", "for January-June", "in 2009", "year-on-year",
           "in the second quarter of 2010", "for the full year", "in the October-December period", "")
MEASURES = ("net sales", "operating profit", "revenue", "net profit", "earnings per share", "order intake",
            "operating margin", "sales", "pre-tax profit", "EBITDA")
LOSSES = ("net loss", "operating loss", "pre-tax loss", "loss per share", "quarterly loss")

POSITIVE = (
    "{co} said its {loss} narrowed to {cur} {amt} million {period}",
    "{co}'s {loss} narrowed from {cur} {amt2} million to {cur} {amt} million",
    "{co} {loss} shrank to {cur} {amt} million {period}",
    "{co} won a {cur} {amt} million order from {co2}",
    "{co} has been awarded a contract worth {cur} {amt} million by {co2}",
    "{co} signed a {cur} {amt} million supply agreement with {co2}",
    "{co} receives {cur} {amt} million order for its equipment",
    "{co2} has selected {co} to deliver systems worth {cur} {amt} million",
    "{co}'s {measure} rose {pct}% to {cur} {amt} million {period}",
    "{co}'s {measure} increased by {pct}% {period}",
    "{measure} at {co} grew to {cur} {amt} million from {cur} {amt2} million",
    "{co} swung to an operating profit of {cur} {amt} million {period}",
    "{co} raised its full-year guidance after strong demand",
    "{co} expects its {measure} to improve {period}",
)
NEGATIVE = (
    "{co} said its {loss} widened to {cur} {amt} million {period}",
    "{co}'s {loss} increased from {cur} {amt2} million to {cur} {amt} million",
    "{co} swung to a {loss} of {cur} {amt} million {period}",
    "{co} lost a {cur} {amt} million contract with {co2}",
    "{co2} cancelled its {cur} {amt} million order with {co}",
    "{co}'s {measure} fell {pct}% to {cur} {amt} million {period}",
    "{co}'s {measure} decreased by {pct}% {period}",
    "{measure} at {co} dropped to {cur} {amt} million from {cur} {amt2} million",
    "{co} cut its full-year guidance on weak demand",
    "{co} expects its {measure} to decline {period}",
    "{co} will cut {n} jobs as orders dry up",
    "{co} issued a profit warning {period}",
)
NEUTRAL = (
    "{co} will publish its interim report on {date}",
    "{co} appointed a new chief financial officer",
    "{co}'s annual general meeting will be held on {date}",
    "{co} is headquartered in {city} and employs about {n} people",
    "The agreement between {co} and {co2} covers the years 2011-2013",
    "{co} operates {n} stores in {city}",
    "{co} will hold a conference call for analysts on {date}",
    "{co}'s shares are listed on the {city} stock exchange",
    "{co} reports its {measure} in {cur}",
    "The order from {co2} includes maintenance services, {co} said",
    "{co} said the deal is subject to regulatory approval",
    "{co} makes packaging materials for the food industry",
)
CITIES = ("Helsinki", "New York", "London", "Stockholm", "Frankfurt", "Chicago", "Oslo", "Toronto")
DATES = ("April 28", "2 November 2010", "July 21", "Thursday", "March 15, 2011", "the end of the month")


def company_names(path: Path = COMPANIES_FILE, limit: int = 3000) -> list[str]:
    """Readable company names from the SEC company table ("APPLE INC" → "Apple"), or a few made-up ones."""
    if not path.is_file():
        return list(FALLBACK_COMPANIES)
    rows = json.loads(path.read_text(encoding="utf-8")).values()
    names: list[str] = []
    for row in rows:
        words = [w for w in str(row.get("title", "")).replace(",", "").split()
                 if w.upper().strip(".") not in {"INC", "CORP", "CO", "LTD", "PLC", "LLC", "HOLDINGS", "GROUP", "SA",
                                                  "NV", "AG", "LP", "/DE/", "THE"}]
        if words:
            names.append(" ".join(w if any(c.islower() for c in w) else w.capitalize() for w in words[:3]))
        if len(names) >= limit:
            break
    return names or list(FALLBACK_COMPANIES)


def _fill(template: str, rng: np.random.Generator, companies: list[str]) -> str:
    first, second = rng.choice(len(companies), size=2, replace=False)
    amount = float(rng.choice([0.4, 1.2, 2.0, 3.5, 8.7, 13.1, 28.0, 45.0, 120.0, 310.0])) * float(rng.uniform(0.8, 1.2))
    text = template.format(co=companies[first], co2=companies[second], cur=rng.choice(CURRENCIES),
                           amt=f"{amount:.1f}", amt2=f"{amount * float(rng.uniform(1.2, 2.5)):.1f}",
                           pct=int(rng.integers(2, 60)), period=rng.choice(PERIODS), measure=rng.choice(MEASURES),
                           loss=rng.choice(LOSSES), n=int(rng.integers(20, 5000)), city=rng.choice(CITIES),
                           date=rng.choice(DATES))
    return " ".join(text.replace("$ ", "$").split())


def synthetic_rows(per_class: int, seed: int = 17, companies: list[str] | None = None) -> list[tuple[str, str]]:
    """``per_class`` unique sentences of each direction, shuffled."""
    rng = np.random.default_rng(seed)
    names = companies or company_names()
    rows: list[tuple[str, str]] = []
    for label, templates in (("positive", POSITIVE), ("negative", NEGATIVE), ("neutral", NEUTRAL)):
        seen: dict[str, None] = {}
        for _ in range(per_class * 20):
            if len(seen) >= per_class:
                break
            seen.setdefault(_fill(str(rng.choice(templates)), rng, names), None)
        rows.extend((text, label) for text in seen)
    return [rows[i] for i in rng.permutation(len(rows))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.synthetic",
                                     description="Write a text,label CSV of templated company-report sentences.")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--per-class", type=int, default=600)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    rows = synthetic_rows(args.per_class, args.seed)
    write_csv(WeakSet([text for text, _ in rows], [label for _, label in rows]), args.out)
    print(f"{args.out}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
