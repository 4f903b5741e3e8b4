"""Company linking before/after the SEC table: precision/recall on hand labels, and statistics on the shipped files.

    .venv/bin/python bench/linking_eval.py            # prints a report; --out FILE also writes it

*Before* = the watchlist linker alone (the behaviour before issue 14); *after* = watchlist + brands + the current
SEC table; *after, 2023 table* = the same with the March 2023 snapshot (``BEARWATCH_TICKERS_ASOF=2023-03-20``).
Precision/recall are micro-averaged over (story, ticker) links on ``tests/support/data/linking_labels.tsv`` (200 rows
that H14 labelled by hand; the text is read from ``../shared/data/headlines``). Linking statistics count distinct
stories (title + date, as the replay merges the Reuters file's per-ticker repeats) and use only what the linker
finds in the text, not the Reuters file's own ticker column. Entity keys are those the windows would count.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consumers.entities import story_entities  # noqa: E402
from consumers.linking import build_linker  # noqa: E402
from consumers.plaintext import html_to_text  # noqa: E402
from consumers.tickers import TickerLinker, Watchlist  # noqa: E402
from monitor.ground.settings import Settings  # noqa: E402

HEADLINES = ROOT.parent / "shared" / "data" / "headlines"
LABELS = ROOT / "tests" / "support" / "data" / "linking_labels.tsv"
FILES = {
    "Reuters 2011": "reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv",
    "Terra/Luna 2022": "2022-05-02_to_2022-05-20_TerraLuna.csv",
}


def read_rows(name: str) -> list[dict[str, str]]:
    with (HEADLINES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def texts_of(row: dict[str, str]) -> tuple[str, str]:
    summary = row.get("summary") if "summary" in row else row.get("description", "")
    return row["title"], html_to_text(summary or "", 2000)


def labelled() -> list[tuple[tuple[str, str], set[str]]]:
    """``((title, summary), gold tickers)`` of every labelled row (rows whose title changed are refused)."""
    import hashlib

    cache: dict[str, list[dict[str, str]]] = {}
    out = []
    with LABELS.open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for record in csv.DictReader(lines, delimiter="\t"):
        rows = cache.setdefault(record["file"], read_rows(record["file"]))
        row = rows[int(record["row"])]
        if hashlib.sha256(row["title"].encode()).hexdigest()[:12] != record["title_sha"]:
            raise SystemExit(f"{record['file']} row {record['row']} changed: labels no longer apply")
        gold = set() if record["tickers"] == "-" else set(record["tickers"].split(";"))
        out.append((texts_of(row), gold))
    return out


def precision_recall(linker: TickerLinker, sample: list[tuple[tuple[str, str], set[str]]]) -> dict[str, float]:
    tp = fp = fn = 0
    for (title, summary), gold in sample:
        found = set(linker.link(title, summary))
        tp += len(found & gold)
        fp += len(found - gold)
        fn += len(gold - found)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0}


def file_stats(linker: TickerLinker, rows: list[dict[str, str]]) -> tuple[int, int, Counter[str], Counter[str]]:
    seen: set[tuple[str, str]] = set()
    stories = linked = 0
    tickers: Counter[str] = Counter()
    entities: Counter[str] = Counter()
    for row in rows:
        key = (row["title"], row.get("date_yyyymmdd") or row.get("date_published", ""))
        if key in seen:
            continue
        seen.add(key)
        stories += 1
        title, summary = texts_of(row)
        links = linker.links(title, summary)
        linked += bool(links.tickers)
        tickers.update(links.tickers)
        entities.update(story_entities(title, links))
    return stories, linked, tickers, entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    linkers = {
        "before (watchlist only)": TickerLinker(Watchlist.load()),
        "after (watchlist + brands + SEC 2026 table)": build_linker(Settings()),
        "after, 2023 table (tickers_asof=2023-03-20)": build_linker(Settings(tickers_asof=date(2023, 3, 20))),
    }
    lines = []
    sample = labelled()
    lines.append(f"Hand-labelled sample: {len(sample)} headlines, {sum(len(g) for _, g in sample)} gold links")
    for name, linker in list(linkers.items())[:2]:  # the labels name 2026 symbols: the 2023 table is not comparable
        pr = precision_recall(linker, sample)
        lines.append(f"  {name}: precision {pr['precision']:.3f} recall {pr['recall']:.3f} "
                     f"(tp {pr['tp']}, fp {pr['fp']}, fn {pr['fn']})")
    for label, name in FILES.items():
        rows = read_rows(name)
        lines.append(f"\n{label} ({name})")
        for linker_name, linker in linkers.items():
            stories, linked, tickers, entities = file_stats(linker, rows)
            top = ", ".join(f"{k} {v}" for k, v in tickers.most_common(10))
            lines.append(f"  {linker_name}: {linked}/{stories} stories with >=1 ticker "
                         f"({linked / stories:.1%}); {len(tickers)} distinct; top: {top}")
            if linker_name.startswith("after (") and entities:
                top_entities = ", ".join(f"{k} {v}" for k, v in entities.most_common(15))
                lines.append(f"    entity keys: {len(entities)} distinct; top: {top_entities}")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
