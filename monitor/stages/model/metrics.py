"""Classification report in numpy: per-class precision/recall/F1, accuracy, macro and weighted F1, confusion.

Written here rather than taken from scikit-learn to keep that dependency out of the runtime; the definitions
follow scikit-learn's (a class with no predictions has precision 0; weighted F1 weighs by true support).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], names: Sequence[str]) -> dict[str, Any]:
    """A JSON-ready report: ``accuracy``, ``macro_f1``, ``weighted_f1``, ``per_class``, ``confusion_matrix``."""
    matrix = confusion_matrix(y_true, y_pred, len(names))
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = support.sum()
    present = (support > 0) | (predicted > 0)  # scikit-learn's macro: labels seen in y_true or y_pred
    return {
        "n": int(total),
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "weighted_f1": float((f1 * support).sum() / total) if total else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(names)
        },
        "labels": list(names),
        "confusion_matrix": matrix.tolist(),
    }


def selection_score(sentiment: dict[str, Any], topic: dict[str, Any]) -> float:
    """The one number model selection maximises on the dev split: the mean of the four target metrics."""
    return float(np.mean([sentiment["accuracy"], sentiment["weighted_f1"], topic["accuracy"],
                          topic["macro_f1"]]))
