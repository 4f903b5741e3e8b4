"""Files both kinds of run write the same way, so a replay's and a backtest's outputs compare directly.

``alerts.json`` is a list of :class:`monitor.ground.contracts.Alert` objects; ``rejected.csv`` lists every row
that could not be used, with its number and reason.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from consumers.replay.source import SourceReport
from monitor.ground.contracts import Alert


def write_alerts_json(path: Path, alerts: list[Alert]) -> None:
    path.write_text(json.dumps([alert.model_dump(mode="json") for alert in alerts], indent=2) + "\n",
                    encoding="utf-8")


def write_rejected_csv(path: Path, report: SourceReport) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "reason", "detail"])
        writer.writerows((error.number, error.reason, error.detail) for error in report.errors)
