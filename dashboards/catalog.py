"""The dashboards Bearwatch ships, their files under ``dashboards/``, and every PromQL query they run.

``bearwatch dashboards build`` writes :data:`DASHBOARDS` to JSON with :func:`write_all`; Grafana's file provisioning
(docker-compose) and ``bearwatch dashboards push`` read those files back with :func:`load_all`, so the JSON in git
is the one source of truth at run time. :func:`queries` lists every expression a dashboard sends to Prometheus
(panel targets, annotation queries, template-variable queries), which is what the tests run on a real Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards import market, pipeline, ticker

DASHBOARD_DIR = Path(__file__).resolve().parent
DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "market-overview.json": market.build,
    "ticker-drilldown.json": ticker.build,
    "pipeline-health.json": pipeline.build,
}


def render(doc: dict[str, Any]) -> str:
    """Stable JSON text: two-space indent, key order as built, trailing newline (clean git diffs)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path = DASHBOARD_DIR) -> list[Path]:
    """Write every dashboard; returns the files whose content changed."""
    changed = []
    for name, build in DASHBOARDS.items():
        path = directory / name
        text = render(build())
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def load_all(directory: Path = DASHBOARD_DIR) -> dict[str, dict[str, Any]]:
    """The checked-in dashboards by file name (only the shipped ones: other JSON files there are not ours)."""
    return {name: json.loads((directory / name).read_text(encoding="utf-8")) for name in DASHBOARDS}


@dataclass(frozen=True)
class Query:
    """One expression a dashboard sends to Prometheus, and where it comes from (for readable failures)."""

    dashboard: str
    where: str
    expr: str
    kind: str = "promql"  # promql | label_values


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for item in panels:
        yield item
        yield from iter_panels(item.get("panels") or [])


def queries(doc: dict[str, Any]) -> list[Query]:
    title = doc.get("title", "?")
    found: list[Query] = []
    for item in iter_panels(doc.get("panels", [])):
        for target in item.get("targets") or []:
            if target.get("expr"):
                found.append(Query(title, f"panel {item.get('title')!r} {target.get('refId')}", target["expr"]))
    for annotation in doc.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append(Query(title, f"annotation {annotation.get('name')!r}", annotation["expr"]))
    for variable in doc.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            definition = variable.get("definition") or ""
            found.append(Query(title, f"variable ${variable.get('name')}", definition, "label_values"))
    return found
