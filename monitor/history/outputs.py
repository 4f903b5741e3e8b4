"""Write a backtest's files: alerts (JSON + CSV), the per-minute index (Parquet + CSV), the HTML report, the
rejected rows and a ``summary.json`` with the numbers the command prints (and the acceptance bench reads).

``alerts.json`` is a list of :class:`monitor.ground.contracts.Alert` objects, the same format ``bearwatch replay``
writes (:mod:`monitor.history.run_files`), so the two can be compared directly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from monitor.ground.contracts import Alert
from monitor.history.backtest_run import BacktestRun
from monitor.history.events import EventScores
from monitor.history.report import render_report
from monitor.history.run_files import write_alerts_json, write_rejected_csv

ALERT_COLUMNS = ("starts_at", "ends_at", "status", "rule", "scope", "key", "severity", "value", "baseline", "zscore",
                 "count", "fingerprint", "summary", "top_headline", "top_url")


def write_alerts_csv(path: Path, alerts: list[Alert]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ALERT_COLUMNS)
        for a in alerts:
            top = a.samples[0] if a.samples else None
            writer.writerow([a.starts_at.isoformat(), a.ends_at.isoformat() if a.ends_at else "", a.status, a.rule,
                             a.scope, a.key, a.severity, a.value, "" if a.baseline is None else a.baseline,
                             "" if a.zscore is None else a.zscore, a.count, a.fingerprint,
                             a.annotations.get("summary", ""), top.title if top else "", top.url if top else ""])


def write_all(run: BacktestRun, scores: EventScores | None = None) -> dict[str, Path]:
    out = run.out_dir
    paths = {name: out / file for name, file in (
        ("alerts_json", "alerts.json"), ("alerts_csv", "alerts.csv"), ("index_parquet", "index.parquet"),
        ("index_csv", "index.csv"), ("report", "report.html"), ("rejected", "rejected.csv"),
        ("summary", "summary.json"))}
    write_alerts_json(paths["alerts_json"], run.alerts)
    write_alerts_csv(paths["alerts_csv"], run.alerts)
    run.index.write(paths["index_parquet"], paths["index_csv"])
    write_rejected_csv(paths["rejected"], run.source)
    paths["report"].write_text(render_report(run, scores), encoding="utf-8")
    summary = {
        "run_id": run.run_id, "namespace": run.namespace, "source": run.source.to_dict(),
        "model": run.model.model_dump(), "stories_scored": run.scored, "dead_lettered": run.dead,
        "alert_messages": len(run.alerts), "alerts_fired": sum(
            1 for a in run.alerts if a.status == "firing" and a.annotations.get("repeat") != "true"),
        "cache_hits": run.cache_hits, "cache_misses": run.cache_misses, "seconds": round(run.seconds, 3),
        "read_seconds": round(run.source.seconds, 3), "score_seconds": round(run.score_seconds, 3),
        "evaluate_seconds": round(run.evaluate_seconds, 3),
        "stories_per_second": round(run.rate, 1), "events": scores.to_dict() if scores else None,
        "rules": {rule.name: {"fired": sum(1 for a in run.alerts if a.rule == rule.name and a.status == "firing"
                                           and a.annotations.get("repeat") != "true"),
                              "closeness": run.closeness[rule.name].to_dict() if rule.name in run.closeness else None}
                  for rule in run.rules},
        "files": {name: str(path) for name, path in paths.items()},
    }
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return paths
