"""A check of dashboard JSON against Grafana's documented dashboard model, run before anything is pushed.

Grafana accepts almost any JSON and shows broken panels only when someone opens the dashboard, so mistakes
(a panel without a query, a datasource by name instead of uid, two panels with one id, a panel off the
24-column grid, a ``$variable`` nobody defines) would surface in front of a user. This module encodes the parts
of the model (https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/)
that Bearwatch relies on, as a small declarative schema plus the cross-field rules a schema cannot express.

Example::

    problems = check_dashboard(json.loads(Path("dashboards/market-overview.json").read_text()))
    assert not problems, problems
"""

from __future__ import annotations

import json
import re
from typing import Any

from dashboards.builder import DATASOURCE_UID, GRID_WIDTH

#: Panel types of Grafana 11's core visualisations.
PANEL_TYPES = frozenset({
    "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "state-timeline", "status-history",
    "piechart", "barchart", "histogram", "text", "row", "logs", "news", "alertlist", "annolist", "dashlist",
    "nodeGraph", "traces", "flamegraph", "canvas", "geomap", "trend", "xychart", "candlestick", "datagrid",
})
NO_QUERY_TYPES = frozenset({"text", "row", "news", "dashlist", "alertlist", "annolist"})
BUILTIN_VARIABLES = frozenset({"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                               "__range_ms", "__dashboard", "__from", "__to", "__name", "__org", "__user"})
GRAFANA_UIDS = frozenset({"-- Grafana --", "grafana"})

# A schema is a dict: key -> (type or tuple of types, required). Nested dict schemas are given as dicts.
DASHBOARD_SCHEMA: dict[str, Any] = {
    "uid": (str, True), "title": (str, True), "tags": (list, True), "timezone": (str, False),
    "editable": (bool, False), "schemaVersion": (int, True), "version": (int, False), "refresh": (str, False),
    "time": ({"from": (str, True), "to": (str, True)}, True),
    "templating": ({"list": (list, True)}, True),
    "annotations": ({"list": (list, True)}, True),
    "panels": (list, True), "links": (list, False), "description": (str, False),
}
GRID_SCHEMA: dict[str, Any] = {"h": (int, True), "w": (int, True), "x": (int, True), "y": (int, True)}
PANEL_SCHEMA: dict[str, Any] = {
    "id": (int, True), "type": (str, True), "title": (str, True), "gridPos": (GRID_SCHEMA, True),
    "description": (str, False), "datasource": (dict, False), "targets": (list, False),
    "fieldConfig": ({"defaults": (dict, True), "overrides": (list, True)}, False), "options": (dict, False),
    "transformations": (list, False), "panels": (list, False),
}
TARGET_SCHEMA: dict[str, Any] = {"refId": (str, True), "expr": (str, True), "datasource": (dict, True)}
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def check_schema(value: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Required keys present, every known key of the right type; nested schemas checked recursively."""
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    problems = []
    for key, (kind, required) in schema.items():
        if key not in value:
            if required:
                problems.append(f"{where}: missing required key {key!r}")
            continue
        if isinstance(kind, dict):
            problems += check_schema(value[key], kind, f"{where}.{key}")
        elif not isinstance(value[key], kind) or (kind is int and isinstance(value[key], bool)):
            problems.append(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, "
                            f"got {type(value[key]).__name__}")
    return problems


def _datasource_problem(datasource: Any, where: str) -> list[str]:
    if not isinstance(datasource, dict) or datasource.get("uid") != DATASOURCE_UID:
        return [f"{where}: datasource must be referenced by uid {DATASOURCE_UID!r}, got {datasource!r}"]
    return []


def _check_target(target: Any, where: str) -> list[str]:
    problems = check_schema(target, TARGET_SCHEMA, where)
    if problems:
        return problems
    if not target["expr"].strip():
        problems.append(f"{where}: empty expr")
    if target["expr"].count("(") != target["expr"].count(")") or target["expr"].count("{") != \
            target["expr"].count("}"):
        problems.append(f"{where}: unbalanced brackets in {target['expr']!r}")
    return problems + _datasource_problem(target["datasource"], f"{where}.datasource")


def _check_panel(panel: dict[str, Any], where: str) -> list[str]:
    problems = check_schema(panel, PANEL_SCHEMA, where)
    if problems:
        return problems
    kind = panel["type"]
    if kind not in PANEL_TYPES:
        problems.append(f"{where}: unknown panel type {kind!r}")
    if not panel["title"].strip():
        problems.append(f"{where}: panel without a title")
    if kind != "row" and not str(panel.get("description", "")).strip():
        problems.append(f"{where} {panel['title']!r}: no description telling the reader what to look for")
    grid = panel["gridPos"]
    if grid["w"] < 1 or grid["h"] < 1 or grid["x"] < 0 or grid["y"] < 0 or grid["x"] + grid["w"] > GRID_WIDTH:
        problems.append(f"{where} {panel['title']!r}: gridPos {grid} is outside the {GRID_WIDTH}-column grid")
    if kind in NO_QUERY_TYPES:
        return problems
    targets = panel.get("targets") or []
    if not targets:
        problems.append(f"{where} {panel['title']!r}: a {kind} panel without a query")
    problems += _datasource_problem(panel.get("datasource"), f"{where}.datasource")
    ref_ids = [t.get("refId") for t in targets if isinstance(t, dict)]
    if len(set(ref_ids)) != len(ref_ids):
        problems.append(f"{where} {panel['title']!r}: duplicate refIds {ref_ids}")
    for index, target in enumerate(targets):
        problems += _check_target(target, f"{where}.targets[{index}]")
    return problems


def _overlaps(panels: list[dict[str, Any]]) -> list[str]:
    boxes = [(p.get("title"), p["gridPos"]) for p in panels if isinstance(p.get("gridPos"), dict)]
    problems = []
    for i, (title_a, a) in enumerate(boxes):
        for title_b, b in boxes[i + 1:]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and \
                    b["y"] < a["y"] + a["h"]:
                problems.append(f"panels {title_a!r} and {title_b!r} overlap on the grid")
    return problems


def _undefined_variables(doc: dict[str, Any]) -> list[str]:
    defined = {v.get("name") for v in doc.get("templating", {}).get("list", []) if isinstance(v, dict)}
    used: set[str] = set()
    for text in re.findall(r'"(?:expr|definition|title|description|legendFormat)":\s*"((?:[^"\\]|\\.)*)"',
                           json.dumps(doc)):
        used.update(a or b for a, b in _VARIABLE.findall(text))
    missing = sorted(used - defined - BUILTIN_VARIABLES)
    return [f"variable ${name} is used but not defined in templating" for name in missing]


def check_dashboard(doc: Any) -> list[str]:
    """Every problem found in one dashboard; an empty list means it matches the model."""
    problems = check_schema(doc, DASHBOARD_SCHEMA, "dashboard")
    if problems:
        return problems
    if not _UID.match(doc["uid"]):
        problems.append(f"dashboard.uid {doc['uid']!r}: 1-40 letters, digits, '-' or '_'")
    if doc["schemaVersion"] < 36:
        problems.append(f"dashboard.schemaVersion {doc['schemaVersion']} predates datasource references by uid")
    ids: list[Any] = []  # as found in the JSON: the duplicate check below counts only ints
    flat: list[dict[str, Any]] = []
    for index, panel in enumerate(doc["panels"]):
        where = f"panels[{index}]"
        if not isinstance(panel, dict):
            problems.append(f"{where}: expected an object")
            continue
        problems += _check_panel(panel, where)
        ids.append(panel.get("id"))
        flat.append(panel)
        for inner, nested in enumerate(panel.get("panels") or []):
            problems += _check_panel(nested, f"{where}.panels[{inner}]")
            ids.append(nested.get("id"))
    duplicates = sorted({i for i in ids if ids.count(i) > 1 and isinstance(i, int)})
    if duplicates:
        problems.append(f"duplicate panel ids {duplicates}")
    problems += _overlaps(flat)
    for index, variable in enumerate(doc["templating"]["list"]):
        if variable.get("type") == "query":
            problems += _datasource_problem(variable.get("datasource"), f"templating.list[{index}].datasource")
            if not str(variable.get("definition", "")).strip():
                problems.append(f"templating.list[{index}]: query variable without a definition")
    for index, annotation in enumerate(doc["annotations"]["list"]):
        source = annotation.get("datasource") or {}
        if source.get("uid") in GRAFANA_UIDS:
            continue
        problems += _datasource_problem(source, f"annotations.list[{index}].datasource")
        if not str(annotation.get("expr", "")).strip():
            problems.append(f"annotations.list[{index}] {annotation.get('name')!r}: Prometheus annotation without expr")
    return problems + _undefined_variables(doc)
