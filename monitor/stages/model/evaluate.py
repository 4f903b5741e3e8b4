"""Evaluation of a model directory on labelled text: the report dict and its rich table.

``bearwatch evaluate`` and the end of training both come through :func:`evaluate_set`, so a number in
``metrics.json`` is always reproducible with ``bearwatch evaluate --data FILE --head HEAD``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from monitor.stages.model.data import LabelledSet
from monitor.stages.model.metrics import classification_report

if TYPE_CHECKING:
    from monitor.stages.model.engine import Engine


def evaluate_set(engine: Engine, data: LabelledSet) -> dict[str, Any]:
    """Score ``data`` with its head; the report has ``accuracy``, ``macro_f1``, ``weighted_f1``, ``per_class``."""
    probs = engine.probabilities(data.texts)
    matrix = probs.topic if data.head == "topic" else probs.sentiment
    predicted = matrix.argmax(1).tolist()
    report = classification_report(data.labels, predicted, engine.labels.for_head(data.head))
    return {"head": data.head, "data": data.source, **report, "truncated": int(probs.truncated.sum()),
            "model": {"name": engine.model_name, "version": engine.model_version, **engine.describe()}}


def render_report(report: dict[str, Any], console: Console) -> None:
    """Per-class precision/recall/F1/support, then accuracy and the macro and weighted F1."""
    source = str(report["data"]).rsplit("/", 1)[-1]
    table = Table(title=f"{report['head']} head on {source} (n={report['n']})", title_justify="left")
    table.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right")
    for name, row in report["per_class"].items():
        table.add_row(name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                      str(row["support"]))
    table.add_section()
    table.add_row("accuracy", "", "", f"{report['accuracy']:.4f}", str(report["n"]))
    table.add_row("macro avg", "", "", f"{report['macro_f1']:.4f}", "")
    table.add_row("weighted avg", "", "", f"{report['weighted_f1']:.4f}", "")
    console.print(table)
    if len(report["labels"]) <= 5:
        matrix = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
        matrix.add_column("")
        for name in report["labels"]:
            matrix.add_column(name[:12], justify="right")
        for name, row in zip(report["labels"], report["confusion_matrix"], strict=True):
            matrix.add_row(name, *(str(v) for v in row))
        console.print(matrix)
    model = report.get("model", {})
    console.print(f"model {model.get('name')} {model.get('version')} on {model.get('device')}; "
                  f"{report.get('truncated', 0)} texts truncated at {model.get('max_tokens')} tokens")
