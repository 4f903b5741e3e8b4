"""Templated company-report sentences: balanced, unique, fully filled, reproducible, and readable company names."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from monitor.stages.model.synthetic import (
    FALLBACK_COMPANIES,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    company_names,
    main,
    synthetic_rows,
)
from monitor.stages.model.weak_labels import weak_label


def test_rows_are_balanced_unique_filled_and_reproducible() -> None:
    rows = synthetic_rows(80, seed=3, companies=list(FALLBACK_COMPANIES))
    assert Counter(label for _, label in rows) == {"positive": 80, "negative": 80, "neutral": 80}
    assert len({text for text, _ in rows}) == len(rows)
    assert not any("{" in text or "}" in text or "  " in text for text, _ in rows)
    assert rows == synthetic_rows(80, seed=3, companies=list(FALLBACK_COMPANIES))
    assert rows != synthetic_rows(80, seed=4, companies=list(FALLBACK_COMPANIES))


def test_directional_templates_agree_with_the_headline_lexicon_where_it_speaks() -> None:
    # the lexicon and the templates encode the same convention independently: where the lexicon gives a label to a
    # directional template sentence, it must be the template's (a narrowing loss is good news, a widening one bad)
    rows = synthetic_rows(300, seed=5, companies=list(FALLBACK_COMPANIES))
    checked = [(label, weak_label(text)) for text, label in rows if label != "neutral" and weak_label(text)]
    assert len(checked) > 100
    assert all(label == lexicon for label, lexicon in checked), [c for c in checked if c[0] != c[1]][:5]


def test_every_template_is_used_with_enough_sentences() -> None:
    rows = synthetic_rows(600, seed=6, companies=list(FALLBACK_COMPANIES))
    assert len(rows) == 1800
    assert len(POSITIVE) >= 10 and len(NEGATIVE) >= 10 and len(NEUTRAL) >= 10


def test_company_names_are_readable_and_fall_back_when_the_table_is_missing(tmp_path: Path) -> None:
    table = tmp_path / "company_tickers.json"
    table.write_text('{"0": {"cik_str": 1, "ticker": "AAPL", "title": "APPLE INC"}, '
                     '"1": {"cik_str": 2, "ticker": "GOOGL", "title": "Alphabet Inc."}}')
    assert company_names(table) == ["Apple", "Alphabet"]
    assert company_names(tmp_path / "missing.json") == list(FALLBACK_COMPANIES)


def test_command_writes_a_training_csv(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    main(["--out", str(out), "--per-class", "20"])
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60 and set(rows[0]) == {"text", "label"}
