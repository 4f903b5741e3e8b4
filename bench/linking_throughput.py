"""Linking throughput with the full SEC table: stories per second through the consumers' per-story annotation.

    .venv/bin/python bench/linking_throughput.py [--seconds 6] [--rounds 3] [--out FILE]

Stories are the distinct (title, summary) pairs of the two shipped headline files, cycled for ``--seconds`` per
phase, split into ``--rounds`` interleaved rounds (the best and the median round are shown: on a shared machine
the best round is the one least disturbed by other processes). Phases, each on one core in this process:
``link`` (tickers only, as before issue 14 but with the whole table), ``link+entities`` (the ``entity`` scope's
keys too) and ``annotate`` (plus language detection: all the per-story work issue 14 added to the consumers).
The goal is >= 5,000 stories/s for linking.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consumers.entities import story_entities  # noqa: E402
from consumers.language import detect_language  # noqa: E402
from consumers.linking import build_linker, table_path  # noqa: E402
from consumers.plaintext import html_to_text  # noqa: E402
from monitor.ground.settings import Settings  # noqa: E402

HEADLINES = ROOT.parent / "shared" / "data" / "headlines"
GOAL = 5000


def stories() -> list[tuple[str, str]]:
    out: dict[tuple[str, str], None] = {}
    for path in sorted(HEADLINES.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                summary = row.get("summary") if "summary" in row else row.get("description", "")
                out[(row["title"], html_to_text(summary or "", 2000))] = None
    return list(out)


def rate(work: Callable[[str, str], object], texts: list[tuple[str, str]], seconds: float) -> float:
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for title, summary in texts:
            work(title, summary)
        done += len(texts)
    return done / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    settings = Settings()
    began = time.perf_counter()
    linker = build_linker(settings)
    build_s = time.perf_counter() - began
    texts = stories()
    detect_language("warm up the model", "")

    def link_and_entities(title: str, summary: str) -> object:
        return story_entities(title, linker.links(title, summary))

    def annotate(title: str, summary: str) -> object:
        return link_and_entities(title, summary), detect_language(title, summary)

    phases = {"link": lambda t, s: linker.link(t, s), "link+entities": link_and_entities, "annotate": annotate}
    lines = [f"table {table_path(settings)}: {len(linker.index.by_cik)} companies, {linker.index.aliases} names, "
             f"built in {build_s:.2f} s; {len(texts)} distinct stories, {args.seconds:g} s per phase, one core"]
    rates: dict[str, list[float]] = {name: [] for name in phases}
    for _ in range(args.rounds):
        for name, work in phases.items():
            rates[name].append(rate(work, texts, args.seconds / args.rounds))
    for name, per_round in rates.items():
        best, median = max(per_round), sorted(per_round)[len(per_round) // 2]
        lines.append(f"  {name:14s} best {best:9,.0f} stories/s, median {median:9,.0f}  "
                     f"{'>=' if median >= GOAL else '<'} goal {GOAL:,} (median)")
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
