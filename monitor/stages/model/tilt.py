"""A positive-vs-negative decision tilt for the sentiment head, fitted on held-out weakly labelled news headlines.

Why: the model calls about half of all headlines neutral, and for those ``p_pos`` and ``p_neg`` are both small and
nearly equal (label smoothing in training pushes the two off-classes to the same value), so the *sign* of
``score = p_pos - p_neg`` — what the pos/neg view of a headline set and every sign-based downstream use reads — is
decided by a systematic lean of the head, learnt on tweets, not by the headline. Adding ``+t/2`` to the positive
logit and ``-t/2`` to the negative one (``t`` in log-odds, baked into the head's bias, so fp32, int8, the worker and
backtests all get it) re-centres that lean for news.

``t`` is fitted on titles the model never trained on: headline-file titles with a lexicon label
(:func:`monitor.stages.model.weak_labels.weak_label`) that are not in the training CSV(s) given with ``--exclude``.
The criterion is balanced pos/neg accuracy (the files' mood is one-sided); its curve is flat near its top, so ``t``
is the middle of the plateau within :data:`PLATEAU` of the best value rather than a noisy argmax. Never fit it on an
evaluation set.

    python -m monitor.stages.model.tilt --model models/default --out models/tilted \\
        --exclude var/weak_headlines.csv ../shared/data/headlines/*.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.stages.model.labels import SENTIMENT_LABELS
from monitor.stages.model.weak_labels import engine_scorer, read_titles, weak_label

#: Candidate tilts (log-odds), every 0.02 from -1 to 1.
GRID = np.round(np.arange(-1.0, 1.0001, 0.02), 2)

#: Tilts whose balanced accuracy is within this of the best form the plateau whose middle is chosen.
PLATEAU = 0.002


@dataclass(frozen=True)
class TiltFit:
    """The chosen tilt and the evidence: balanced accuracy at 0 and at the tilt, the plateau, the held-out counts."""

    tilt: float
    balanced_accuracy_at_zero: float
    balanced_accuracy: float
    plateau: tuple[float, float]
    n_positive: int
    n_negative: int

    def to_json(self) -> dict[str, object]:
        return {"tilt": self.tilt, "balanced_accuracy_at_zero": round(self.balanced_accuracy_at_zero, 4),
                "balanced_accuracy": round(self.balanced_accuracy, 4), "plateau": list(self.plateau),
                "held_out_positive": self.n_positive, "held_out_negative": self.n_negative}


def held_out_titles(files: Iterable[str | Path], exclude: Iterable[str | Path]) -> tuple[list[str], np.ndarray]:
    """Lexicon-labelled titles of ``files`` not in any ``exclude`` CSV (``text`` column): texts and +1/-1 labels."""
    used: set[str] = set()
    for path in exclude:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            used.update(row["text"] for row in csv.DictReader(handle))
    pairs = [(title, label) for title in read_titles(files) if title not in used and (label := weak_label(title))]
    return [t for t, _ in pairs], np.array([1 if label == "positive" else -1 for _, label in pairs], dtype=np.int8)


def balanced_accuracy(margins: np.ndarray, labels: np.ndarray, tilt: float) -> float:
    """Mean of positive and negative recall of ``sign(margin + tilt)`` (margin: log p_pos - log p_neg)."""
    signs = np.sign(margins + tilt)
    recalls = [float((signs[labels == side] == side).mean()) for side in (1, -1) if (labels == side).any()]
    return float(np.mean(recalls)) if recalls else 0.0


def fit_tilt(margins: np.ndarray, labels: np.ndarray, grid: Sequence[float] = tuple(GRID)) -> TiltFit:
    """The middle of the plateau of best balanced accuracy over ``grid``."""
    if not ((labels == 1).any() and (labels == -1).any()):
        raise ValueError("fitting a tilt needs held-out titles of both directions; pass more headline files or a "
                         "smaller --exclude")
    scores = np.array([balanced_accuracy(margins, labels, t) for t in grid])
    top = [t for t, s in zip(grid, scores, strict=True) if s >= scores.max() - PLATEAU]
    middle = float(np.round((min(top) + max(top)) / 2, 2))
    return TiltFit(middle, balanced_accuracy(margins, labels, 0.0), balanced_accuracy(margins, labels, middle),
                   (float(min(top)), float(max(top))), int((labels == 1).sum()), int((labels == -1).sum()))


def margins_of(model_dir: Path, texts: Sequence[str]) -> np.ndarray:
    """``log p_pos - log p_neg`` of the fp32 model for ``texts``."""
    probs = engine_scorer(str(model_dir))(texts).reshape(-1, 2)  # columns: p_negative, p_positive
    return np.log(probs[:, 1] + 1e-12) - np.log(probs[:, 0] + 1e-12)


def write_tilted(model_dir: Path, out: Path, fit: TiltFit, source: str) -> Path:
    """Copy ``model_dir`` to ``out`` with the tilt added to the sentiment head's bias and recorded in its info.

    The encoder is untouched, so the int8 calibration (encoder activations) is copied as it is.
    """
    from safetensors.torch import load_file, save_file

    from monitor.stages.model.modeldir import INFO_FILE, WEIGHTS_FILE

    if out.resolve() != model_dir.resolve():
        shutil.copytree(model_dir, out, dirs_exist_ok=True)
    state = load_file(str(out / WEIGHTS_FILE))
    bias = state["sentiment_head.bias"]
    shift = {"positive": fit.tilt / 2, "negative": -fit.tilt / 2}
    for name, delta in shift.items():
        index = SENTIMENT_LABELS.index(name)
        bias[index] = (bias[index].float() + delta).to(bias.dtype)
    save_file(state, str(out / WEIGHTS_FILE))
    info = json.loads((out / INFO_FILE).read_text(encoding="utf-8"))
    info["sentiment_tilt"] = {**fit.to_json(), "fitted_on": source, "applied_to": "sentiment_head.bias",
                              "previous": info.get("sentiment_tilt")}
    (out / INFO_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.tilt",
                                     description="Fit and apply a positive-vs-negative tilt on held-out headlines.")
    parser.add_argument("files", nargs="+", help="headline CSV files with a title column (never an eval set)")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="model directory to write (may equal --model)")
    parser.add_argument("--exclude", action="append", default=[],
                        help="a text,label CSV the model trained on (repeatable): its titles are not used for fitting")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        texts, labels = held_out_titles(args.files, args.exclude)
        fit = fit_tilt(margins_of(args.model, texts), labels)
    except (OSError, KeyError, ValueError) as exc:  # a missing file, a CSV without its column, no usable titles
        parser.error(f"{type(exc).__name__}: {exc}")
    source = f"{len(texts)} held-out lexicon-labelled titles of {', '.join(Path(f).name for f in args.files)}"
    write_tilted(args.model, args.out, fit, source)
    print(f"{args.out}: tilt {fit.tilt:+.2f} log-odds toward positive (plateau {fit.plateau[0]:+.2f}..."
          f"{fit.plateau[1]:+.2f}); balanced pos/neg accuracy on {len(texts)} held-out titles "
          f"{fit.balanced_accuracy_at_zero:.4f} -> {fit.balanced_accuracy:.4f}")


if __name__ == "__main__":
    main()
