"""Label maps of the two heads, and how dataset labels translate into them.

The model's label order is fixed here, not read from data files, so that a model directory, a training set and the
inference engine can be checked against each other: a directory whose maps differ from these is refused (see
:func:`check_label_maps`). This module imports nothing heavy; the CLI and the stream worker can use it freely.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.ground.errors import BearwatchError

HEADS = ("topic", "sentiment")
LABEL_MAPS_FILE = "label_maps.json"

#: Sentiment head order. ``score = p_pos - p_neg`` relies on these three names being present.
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")

#: zeroshot/twitter-financial-news-sentiment: 0=Bearish, 1=Bullish, 2=Neutral (index order of its CSV labels).
TWITTER_SENTIMENT_INDEX: tuple[str, ...] = ("negative", "positive", "neutral")

#: Names accepted in labelled files for each sentiment class (case-insensitive).
SENTIMENT_ALIASES: dict[str, str] = {
    "negative": "negative", "bearish": "negative", "neg": "negative",
    "neutral": "neutral", "neu": "neutral",
    "positive": "positive", "bullish": "positive", "pos": "positive",
}

#: zeroshot/twitter-financial-news-topic, the 20 lines of its ``classes.txt`` in index order.
TOPIC_LABELS: tuple[str, ...] = (
    "Analyst Update", "Fed | Central Banks", "Company | Product News", "Treasuries | Corporate Debt", "Dividend",
    "Earnings", "Energy | Oil", "Financials", "Currencies", "General News | Opinion", "Gold | Metals | Materials",
    "IPO", "Legal | Regulation", "M&A | Investments", "Macro", "Markets", "Politics", "Personnel Change",
    "Stock Commentary", "Stock Movement",
)


class LabelMapError(ValueError, BearwatchError):
    """A label or a label map does not match what the model or the data promise."""


@dataclass(frozen=True)
class LabelMaps:
    """Index-to-name lists of both heads, in the order of the heads' output units."""

    topic: tuple[str, ...] = TOPIC_LABELS
    sentiment: tuple[str, ...] = SENTIMENT_LABELS

    def for_head(self, head: str) -> tuple[str, ...]:
        if head not in HEADS:
            raise LabelMapError(f"unknown head {head!r}: choose one of {', '.join(HEADS)}")
        return self.topic if head == "topic" else self.sentiment

    def to_json(self) -> dict[str, list[str]]:
        return {"topic": list(self.topic), "sentiment": list(self.sentiment)}

    def save(self, model_dir: Path) -> None:
        (model_dir / LABEL_MAPS_FILE).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> LabelMaps:
        path = model_dir / LABEL_MAPS_FILE
        if not path.is_file():
            raise LabelMapError(f"{path} is missing: {model_dir} is not a Bearwatch model directory")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(topic=tuple(raw["topic"]), sentiment=tuple(raw["sentiment"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelMapError(f"{path} is not a valid label map ({exc}): expected {{'topic': [...], "
                                f"'sentiment': [...]}}") from None


def check_label_maps(found: LabelMaps, expected: LabelMaps, where: str) -> None:
    """Refuse a model whose heads would be read with the wrong names (silent label swaps are the worst bug)."""
    for head in HEADS:
        have, want = found.for_head(head), expected.for_head(head)
        if have != want:
            missing = [name for name in want if name not in have]
            extra = [name for name in have if name not in want]
            detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same names, other order"
            raise LabelMapError(
                f"{where}: {head} label map does not match ({detail}); expected {list(want)}. "
                "Retrain the model with this Bearwatch version or point --model at a matching directory"
            )


def resolve_label(raw: str, head: str, index_names: Sequence[str] | None = None) -> int:
    """Turn a file's label (a name, or an index into ``index_names``) into the head's class index."""
    names = SENTIMENT_LABELS if head == "sentiment" else TOPIC_LABELS
    value = raw.strip()
    if value.lstrip("-").isdigit():
        table = index_names or (TWITTER_SENTIMENT_INDEX if head == "sentiment" else TOPIC_LABELS)
        index = int(value)
        if not 0 <= index < len(table):
            raise LabelMapError(f"label index {index} is out of range for the {head} label map ({len(table)} "
                                "labels)")
        value = table[index]
    if head == "sentiment":
        canonical = SENTIMENT_ALIASES.get(value.lower())
        if canonical is None:
            raise LabelMapError(f"unknown sentiment label {raw!r}: use one of {list(SENTIMENT_ALIASES)}")
        return names.index(canonical)
    lowered = {name.lower(): i for i, name in enumerate(names)}
    if value.lower() not in lowered:
        raise LabelMapError(f"unknown topic label {raw!r}: use one of the 20 names in {list(names)[:3]}... "
                            "or an index 0-19")
    return lowered[value.lower()]
