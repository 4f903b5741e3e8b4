"""Weak sentiment labels for unlabelled news headlines, from a small financial-direction lexicon.

Why: the model is trained on finance tweets and calls much headline news neutral that people read as positive
("X wins $2 bln contract", "net loss narrows"). Headlines with an unambiguous direction word are cheap, plentiful
labels in the target domain. A headline is labelled only when exactly one direction matches (any positive *and*
negative match, a question mark or a hedge word such as "may" gives no label), so precision is bought with recall.

Rules (case-insensitive, whole words; see ``NEGATIVE`` / ``POSITIVE`` below for the exact patterns):

- negative: falls/drops/slumps/plunges/tumbles/dives/slips, cuts forecast|outlook|jobs|dividend|rating, downgrade,
  misses, loss widens, posts/swings to a loss, lower/weaker profit|sales, probe, lawsuit/sues, bankrupt(cy),
  insolvency, default(s), layoffs/job cuts, warns, seized, collapse(s), fraud, recall(s), fined, halts/suspends,
  crash, turmoil, sell-off, fears/worries/jitters, downturn, recession, scandal, disappoints, shares|markets down;
- positive: rises/gains/jumps/surges/soars/climbs/rallies/rebounds/advances, beats, tops estimates, upgrade,
  boosts, record profit|revenue|sales|earnings|high, higher/strong profit|sales, raises dividend|forecast|outlook|
  guidance, buyback, wins|secures|lands|awarded|receives|signs ... order|contract|deal|agreement, approval, loss
  narrows, returns/swings to profit, posts a profit, upbeat, optimism, shares|markets up.

"after" does not hedge: "shares slide after profit warning" has one direction, and "X rises after Y falls" has two,
which already gives no label.

``build_weak_set`` reads headline files (CSV with a ``title`` column), deduplicates titles, applies the rules,
optionally drops titles the current model *strongly* contradicts (p of the opposite direction above a threshold;
the model may call them neutral, which is the error this is meant to correct), balances the two classes and caps
the total. The result is a ``text,label`` CSV that ``bearwatch train --weak-headlines FILE`` adds to the sentiment
training pool. Standalone::

    python -m monitor.stages.model.weak_labels --out var/weak_headlines.csv --model models/default \\
        ../shared/data/headlines/*.csv

Never feed it an evaluation set (e.g. SemEval-2017 headlines): those are for measuring transfer only.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.ground.text import clean_text

_W = r"(?<![\w-])"
_E = r"(?![\w-])"


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"{_W}(?:{p}){_E}" for p in patterns), re.IGNORECASE)


#: Headline words that point down for the company or market named.
NEGATIVE = _words(
    r"falls?", r"fell", r"drops?", r"dropped", r"slumps?", r"slumped", r"plunges?", r"plunged", r"tumbles?",
    r"tumbled", r"sinks?", r"sank", r"slides?", r"slid", r"dives?", r"dived", r"plummets?", r"plummeted",
    r"slash(?:es|ed)?", r"cuts? (?:\w+ )?(?:forecast|outlook|guidance|jobs|dividend|rating|view)s?",
    r"downgrades?", r"downgraded", r"miss(?:es|ed)?", r"loss(?:es)? widen(?:s|ed)?", r"widens? (?:\w+ )?loss(?:es)?",
    r"(?:posts?|reports?|swings? to|turns? to) (?:a )?(?:\w+ )?(?:net |quarterly |annual )?loss(?:es)?",
    r"(?:lower|weaker|disappointing) (?:\w+ )?(?:profits?|revenues?|sales|earnings|results|demand)",
    r"(?:profits?|revenues?|sales|earnings|demand) (?:\w+ )?(?:declines?|declined|decreases?|decreased|shrinks?)",
    r"probes?", r"lawsuits?", r"sues?", r"sued", r"bankrupt(?:cy)?", r"insolven(?:t|cy)", r"defaults?",
    r"defaulted", r"layoffs?", r"job cuts", r"warns?", r"warned", r"profit warning", r"seized", r"collapses?",
    r"collapsed", r"fraud", r"recalls?", r"recalled", r"fined", r"fines \w+", r"penalty", r"halts?", r"halted",
    r"suspends?", r"suspended", r"crash(?:es|ed)?", r"turmoil", r"sell-?off", r"fears?", r"worr(?:y|ies|ied)",
    r"jitters", r"gloom(?:y)?", r"weigh(?:s|ed)? (?:on|down)", r"downturn", r"recession", r"bearish",
    r"scandal", r"disappoints?", r"lacklust(?:er|re)", r"shortfall", r"bailout", r"bank run", r"depositors? flee",
    r"slips?", r"slipped", r"fails?", r"failed", r"falters?", r"faltered", r"tepid", r"lowest",
    r"(?:shares|stocks|index|futures|markets?) (?:\w+ )?(?:down|lower)",
)

#: Headline words that point up for the company or market named.
POSITIVE = _words(
    r"rises?", r"rose", r"gains?", r"gained", r"jumps?", r"jumped", r"surges?", r"surged", r"soars?", r"soared",
    r"climbs?", r"climbed", r"rall(?:y|ies|ied)", r"beats?", r"upgrades?", r"upgraded", r"rebounds?", r"rebounded",
    r"recover(?:s|ed|y)?", r"boosts?", r"boosted", r"tops? (?:\w+ )?(?:estimates|forecasts|expectations|views)",
    r"record (?:\w+ )?(?:profits?|revenues?|sales|earnings|high)",
    r"(?:higher|stronger|strong|better-than-expected) (?:\w+ )?(?:profits?|revenues?|sales|earnings|results|demand)",
    r"(?:profits?|revenues?|sales|earnings|demand) (?:\w+ )?(?:up|higher|grows?|grew|increases?|increased)",
    r"raises? (?:\w+ )?(?:dividend|forecast|outlook|guidance|view)s?", r"(?:share )?buybacks?",
    r"(?:wins?|won|secures?|secured|lands?|landed|awarded|bags?|receives?|received|signs?|signed|clinch(?:es|ed)?)"
    r" (?:[\w$.,-]+ ){0,5}(?:orders?|contracts?|deals?|agreements?|accords?)",
    r"approvals?", r"loss(?:es)? narrow(?:s|ed)?", r"narrows? (?:\w+ )?loss(?:es)?", r"returns? to (?:a )?profit",
    r"swings? to (?:a )?(?:\w+ )?profit", r"posts? (?:a )?(?:net |quarterly |annual )?profit", r"upbeat",
    r"bullish", r"optimism", r"outperforms?", r"advances?", r"advanced", r"highest",
    r"(?:shares|stocks|index|futures|markets?) (?:\w+ )?(?:up|higher)",
)

#: Words that make a direction uncertain (speculation, questions, negation of the verb).
HEDGE = _words(r"may", r"might", r"could", r"would", r"if", r"whether", r"not", r"no", r"despite", r"but",
               r"rumou?rs?", r"says?", r"ease[sd]?", r"allay")

LABELS = ("negative", "positive")

#: Wire-service tags in front of a title ("UPDATE 2-", "US STOCKS-", "RPT-"): not part of the news.
_WIRE_TAG = re.compile(r"^(?:(?:UPDATE|WRAPUP|CORRECTED|REFILE|RPT|TEXT|BRIEF|US STOCKS|GLOBAL MARKETS)"
                       r"(?: \d+)?\s*[-:]\s*)+")


def strip_wire_tags(title: str) -> str:
    """``title`` without leading wire-service tags."""
    return _WIRE_TAG.sub("", title).strip()


def weak_label(title: str) -> str | None:
    """``"negative"``, ``"positive"`` or None: None unless exactly one direction matches and nothing hedges it.

    "after" and "despite" count as hedges because they join two events whose directions often differ ("X rises
    after Y falls"); "loss narrows" is positive even though "loss" alone reads badly, so the negative rules never
    match the bare word "loss".
    """
    text = title.strip()
    if not text or "?" in text or HEDGE.search(text):
        return None
    positive = POSITIVE.search(text) is not None
    negative = NEGATIVE.search(text) is not None
    if positive == negative:
        return None
    return "positive" if positive else "negative"


@dataclass
class WeakSet:
    """Weakly labelled headlines and how many titles each step kept (for the record of a training run)."""

    texts: list[str]
    labels: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def read_titles(paths: Iterable[str | Path], column: str = "title") -> list[str]:
    """Unique clean titles of headline CSV files, in first-seen order (a title repeated per ticker counts once)."""
    seen: dict[str, None] = {}
    for path in paths:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                title = strip_wire_tags(clean_text(row.get(column) or ""))
                if len(title.split()) >= 3:
                    seen.setdefault(title, None)
    return list(seen)


#: p(direction) of each title: returns an (n, 2) array of [p_negative, p_positive].
Scorer = Callable[[Sequence[str]], np.ndarray]


def _neutral_titles(titles: Sequence[str], wanted: int, scorer: Scorer, min_neutral: float,
                    rng: np.random.Generator) -> list[str]:
    """Up to ``wanted`` titles with no direction word at all that ``scorer`` calls neutral with p >= min_neutral."""
    plain = [t for t in titles if not (POSITIVE.search(t) or NEGATIVE.search(t))]
    sample = [plain[i] for i in rng.permutation(len(plain))[: 3 * wanted]]
    if not sample:
        return []
    probs = scorer(sample)
    return [t for t, p in zip(sample, probs, strict=True) if 1.0 - float(p[0]) - float(p[1]) >= min_neutral][:wanted]


def build_weak_set(titles: Sequence[str], cap: int = 3000, seed: int = 13, scorer: Scorer | None = None,
                   max_opposite: float = 0.5, neutral: bool = False, min_neutral: float = 0.8) -> WeakSet:
    """Lexicon-label ``titles``, drop those ``scorer`` strongly contradicts, balance the classes, keep ``cap``.

    Balanced because the files are dominated by one mood (the 2011 Reuters file by the US downgrade and the euro
    debt crisis): an unbalanced set would teach the model the period's mood, not the words. ``neutral`` (needs
    ``scorer``) adds as many titles without any direction word that the model confidently calls neutral, so the
    added rows do not shift the sentiment head's prior away from neutral (``cap`` then holds three classes).
    """
    labelled = [(t, label) for t in titles if (label := weak_label(t)) is not None]
    counts = {"titles": len(titles), "matched": len(labelled)}
    if scorer is not None and labelled:
        probs = scorer([t for t, _ in labelled])
        keep = [probs[i, 1 if label == "negative" else 0] <= max_opposite for i, (_, label) in enumerate(labelled)]
        labelled = [pair for pair, ok in zip(labelled, keep, strict=True) if ok]
        counts["model_agrees"] = len(labelled)
    rng = np.random.default_rng(seed)
    by_label = {name: [t for t, label in labelled if label == name] for name in LABELS}
    per_class = min(cap // (3 if neutral else 2), *(len(v) for v in by_label.values()))
    if neutral:
        if scorer is None:
            raise ValueError("neutral weak labels need a model to confirm them (pass a scorer / --model)")
        by_label["neutral"] = _neutral_titles(titles, per_class, scorer, min_neutral, rng)
        per_class = min(per_class, len(by_label["neutral"]))
    texts: list[str] = []
    labels: list[str] = []
    for name in by_label:
        chosen = rng.permutation(len(by_label[name]))[:per_class]
        texts.extend(by_label[name][i] for i in sorted(chosen))
        labels.extend([name] * per_class)
        counts[name] = per_class
    order = rng.permutation(len(texts))
    return WeakSet([texts[i] for i in order], [labels[i] for i in order], counts)


def write_csv(weak: WeakSet, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(weak.texts, weak.labels, strict=True))


def engine_scorer(model_dir: str, cpu_threads: int = 0) -> Scorer:
    """[p_negative, p_positive] of the model in ``model_dir`` (fp32 CPU engine)."""
    from monitor.stages.model.engine import Engine

    engine = Engine(model_dir, device="cpu", batch_size=64, cpu_threads=cpu_threads)

    def score(texts: Sequence[str]) -> np.ndarray:
        scored = engine.score(texts)
        return np.array([[s.p_neg, s.p_pos] for s in scored], dtype=np.float32)

    return score


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.weak_labels",
                                     description="Write a text,label CSV of lexicon-labelled headlines.")
    parser.add_argument("files", nargs="+", help="headline CSV files with a title column")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cap", type=int, default=3000, help="at most this many titles, half per class")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--model", default="", help="drop titles this model strongly contradicts")
    parser.add_argument("--max-opposite", type=float, default=0.5,
                        help="with --model: drop a title when p(opposite direction) exceeds this")
    parser.add_argument("--neutral", action="store_true",
                        help="with --model: add as many direction-free titles the model calls neutral")
    parser.add_argument("--min-neutral", type=float, default=0.8, help="with --neutral: least p(neutral)")
    parser.add_argument("--cpu-threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.neutral and not args.model:
        parser.error("--neutral needs --model")
    scorer = engine_scorer(args.model, args.cpu_threads) if args.model else None
    weak = build_weak_set(read_titles(args.files), args.cap, args.seed, scorer, args.max_opposite, args.neutral,
                          args.min_neutral)
    write_csv(weak, args.out)
    print(f"{args.out}: {weak.counts}")


if __name__ == "__main__":
    main()
