"""Regenerate ``consumers/everyday_words.txt``: lower-case words common in English news text.

A company alias made only of such words ("Signature", "Western Alliance") is ambiguous and links only with
context. The list is derived from the English training and headline files in ``../shared/data`` (word
frequencies only, no text): every lower-case word of 3+ letters seen at least ``--min-count`` times.

    .venv/bin/python bench/linking_everyday_words.py
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consumers.aliases import EVERYDAY_FILE, tokens  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SOURCES = {
    "train/twitter_financial_news_topic/topic_train.csv": ("text",),
    "train/twitter_financial_news_sentiment/sent_train.csv": ("text",),
    "headlines/reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv": ("title", "summary"),
    "headlines/2022-05-02_to_2022-05-20_TerraLuna.csv": ("title", "description"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-count", type=int, default=3)
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    for name, columns in SOURCES.items():
        with (DATA / name).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for column in columns:
                    counts.update(t for t in tokens(row.get(column) or "") if t.islower() and len(t) >= 3)
    words = sorted(word for word, count in counts.items() if count >= args.min_count and word.isalpha())
    EVERYDAY_FILE.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {EVERYDAY_FILE}")


if __name__ == "__main__":
    main()
