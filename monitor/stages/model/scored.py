"""Out-of-domain check of the sentiment head on headlines with real-valued scores (SemEval-2017 Task 5 style).

Why a separate path: such sets carry a score in [-1, 1] toward a named company, not a class, and they are news
headlines rather than the tweets the model trains on, so they tell whether sentiment transfers. The default set,
``../shared/data/eval/semeval2017_headlines_train/``, is **evaluation only**: nothing here trains or tunes on it.

Two views, both at headline level (a title scored toward several companies counts once, with the mean score; a
title scored with opposite signs is dropped, since one label cannot be right for both):

- **pos/neg accuracy** on titles with a non-zero score: the sign of the model's ``p_pos - p_neg`` against the sign of
  the gold score (a model score of exactly 0 counts as wrong);
- **3-class**: gold neutral when ``|score| < neutral_band``, else by sign; model label = argmax of its heads.

Each view also reports the majority-class floor, so a number can be read against always guessing the commoner side.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.table import Table

from monitor.ground.text import clean_text
from monitor.stages.model.data import DataError
from monitor.stages.model.labels import SENTIMENT_LABELS
from monitor.stages.model.metrics import classification_report

if TYPE_CHECKING:
    from monitor.stages.model.engine import Engine

DEFAULT_OOD = Path(__file__).resolve().parents[4] / "shared" / "data" / "eval" / "semeval2017_headlines_train"
TEXT_COLUMNS = ("title", "text", "headline")
SCORE_COLUMNS = ("sentiment score", "sentiment_score", "score")
MAX_FILE_BYTES = 64 << 20
DEFAULT_BAND = 0.1


@dataclass
class ScoredSet:
    """Unique clean headlines with their (mean) gold score; ``dropped``: titles with conflicting signs."""

    texts: list[str]
    scores: np.ndarray
    source: str
    rows: int
    dropped: int


def _fix_mojibake(text: str) -> str:
    """Undo one UTF-8 → cp1252 round trip ("Â£" → "£", "â€™" → "’") where that decodes cleanly."""
    if not any(marker in text for marker in ("Â", "â€", "Ã")):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _scored_file(source: Path) -> Path:
    if source.is_file():
        return source
    if source.is_dir():
        found = sorted(p for p in source.iterdir() if p.suffix.lower() in (".csv", ".tsv"))
        if len(found) == 1:
            return found[0]
        raise DataError(f"{source}: expected exactly one CSV/TSV file of scored headlines, found "
                        f"{[p.name for p in found]}")
    raise DataError(f"{source} does not exist: pass a CSV with a title and a 'sentiment score' column, or its folder")


def is_scored_source(source: str | Path) -> bool:
    """True when ``source`` is a CSV/TSV (or a folder of one) with a title column and a real-valued score column."""
    try:
        path = _scored_file(Path(source))
    except DataError:
        return False
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as handle:
        header = {name.strip().lower() for name in next(csv.reader(handle, delimiter=_delimiter(path)), [])}
    return bool(header & set(TEXT_COLUMNS)) and bool(header & set(SCORE_COLUMNS))


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def load_scored(source: str | Path = DEFAULT_OOD) -> ScoredSet:
    """Read a scored-headline file (UTF-8, BOM allowed) into the headline-level view described above."""
    path = _scored_file(Path(source))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB: split it or pass a smaller sample")
    by_title: dict[str, list[float]] = {}
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=_delimiter(path))
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}
        text_col = next((fields[c] for c in TEXT_COLUMNS if c in fields), None)
        score_col = next((fields[c] for c in SCORE_COLUMNS if c in fields), None)
        if text_col is None or score_col is None:
            raise DataError(f"{path}: expected a title/text column and a 'sentiment score' column "
                            f"(got {reader.fieldnames})")
        for number, row in enumerate(reader, 2):
            try:
                score = float(row[score_col])
            except (TypeError, ValueError):
                raise DataError(f"{path}:{number}: score {row[score_col]!r} is not a number") from None
            if not -1.0 <= score <= 1.0 or score != score:
                raise DataError(f"{path}:{number}: score {score} is outside [-1, 1]")
            text = clean_text(_fix_mojibake(row[text_col] or ""))
            if text:
                by_title.setdefault(text, []).append(score)
                rows += 1
    if not by_title:
        raise DataError(f"{path} holds no scored headlines")
    texts, scores, dropped = [], [], 0
    for text, values in by_title.items():
        signs = {np.sign(v) for v in values if v != 0}
        if len(signs) > 1:
            dropped += 1
            continue
        texts.append(text)
        scores.append(float(np.mean(values)))
    return ScoredSet(texts, np.asarray(scores), str(path), rows, dropped)


def scored_report(sentiment: np.ndarray, data: ScoredSet, neutral_band: float = DEFAULT_BAND) -> dict[str, Any]:
    """Both views from the model's sentiment probabilities (rows in ``data.texts`` order, head label order)."""
    names = list(SENTIMENT_LABELS)
    pos, neu, neg = names.index("positive"), names.index("neutral"), names.index("negative")
    margin = sentiment[:, pos] - sentiment[:, neg]
    polar = data.scores != 0
    gold_sign, model_sign = np.sign(data.scores[polar]), np.sign(margin[polar])
    positive_share = float((gold_sign > 0).mean()) if polar.any() else 0.0
    gold3 = np.where(np.abs(data.scores) < neutral_band, neu, np.where(data.scores > 0, pos, neg))
    three = classification_report(gold3.tolist(), sentiment.argmax(1).tolist(), names)
    majority3 = float(np.bincount(gold3, minlength=len(names)).max() / len(gold3))
    recall = {side: float((model_sign[gold_sign == sign] == sign).mean()) if (gold_sign == sign).any() else 0.0
              for side, sign in (("positive", 1), ("negative", -1))}
    return {
        "data": data.source, "n_rows": data.rows, "n_headlines": len(data.texts), "dropped_conflicting": data.dropped,
        "pos_neg": {"n": int(polar.sum()), "accuracy": float((gold_sign == model_sign).mean()) if polar.any() else 0.0,
                    "recall": recall, "majority_floor": max(positive_share, 1 - positive_share)},
        "three_class": {"neutral_band": neutral_band, "n": three["n"], "accuracy": three["accuracy"],
                        "macro_f1": three["macro_f1"], "weighted_f1": three["weighted_f1"],
                        "majority_floor": majority3, "per_class": three["per_class"],
                        "labels": three["labels"], "confusion_matrix": three["confusion_matrix"]},
        "predicted_neutral_share": float((sentiment.argmax(1) == neu).mean()),
    }


def evaluate_scored(engine: Engine, data: ScoredSet, neutral_band: float = DEFAULT_BAND) -> dict[str, Any]:
    """Score ``data`` with ``engine`` and report both views, with the model that produced them."""
    probs = engine.probabilities(data.texts)
    report = scored_report(probs.sentiment, data, neutral_band)
    return {"head": "sentiment", "kind": "scored", **report,
            "model": {"name": engine.model_name, "version": engine.model_version, **engine.describe()}}


def render_scored(report: dict[str, Any], console: Console) -> None:
    """Both views as one table, each beside its majority floor, then the 3-class confusion matrix."""
    pn, three = report["pos_neg"], report["three_class"]
    source = str(report["data"]).rsplit("/", 1)[-1]
    table = Table(title=f"sentiment head on {source}: {report['n_headlines']} headlines ({report['n_rows']} rows, "
                        f"{report['dropped_conflicting']} titles with conflicting signs dropped)", title_justify="left")
    for column in ("view", "n", "accuracy", "majority floor", "detail"):
        table.add_column(column, justify="left" if column in ("view", "detail") else "right")
    table.add_row("pos/neg (sign of p_pos - p_neg)", str(pn["n"]), f"{pn['accuracy']:.4f}",
                  f"{pn['majority_floor']:.4f}",
                  f"recall positive {pn['recall']['positive']:.3f}, negative {pn['recall']['negative']:.3f}")
    table.add_row(f"3-class (neutral band |score| < {three['neutral_band']})", str(three["n"]),
                  f"{three['accuracy']:.4f}", f"{three['majority_floor']:.4f}",
                  f"macro F1 {three['macro_f1']:.4f}, weighted F1 {three['weighted_f1']:.4f}")
    console.print(table)
    matrix = Table(title="3-class confusion (rows: gold, columns: predicted)", title_justify="left")
    matrix.add_column("")
    for name in three["labels"]:
        matrix.add_column(name, justify="right")
    for name, row in zip(three["labels"], three["confusion_matrix"], strict=True):
        matrix.add_row(name, *(str(v) for v in row))
    console.print(matrix)
    model = report.get("model", {})
    console.print(f"model {model.get('name')} {model.get('version')} on {model.get('device')}"
                  f"{' int8 ' + str(model.get('int8_mode')) if model.get('int8') else ''}; predicted neutral for "
                  f"{report['predicted_neutral_share']:.1%} of headlines")
