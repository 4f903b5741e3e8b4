"""A small builder for Grafana dashboard JSON: panels, queries and a row-by-row grid.

Why a builder and not hand-edited JSON: three dashboards share one datasource reference, the same legend and unit
conventions and the same layout rules, and every panel must carry a description. Python keeps that in one place;
the output is plain JSON checked in under ``dashboards/*.json`` (``bearwatch dashboards build`` rewrites it, a test
fails when the files and the builder disagree), so nothing about a dashboard lives anywhere but in git.

Example::

    grid = Grid()
    panels = [grid.row("Market"),
              grid.place(stat("Negative share (1h)", "What share of the last hour's stories is negative.",
                              [query('max(bearwatch_sentiment_negative_ratio{scope="market",window="1h"})')],
                              unit="percentunit"), w=6, h=4)]
    doc = dashboard("bearwatch-demo", "Demo", "What this dashboard is for.", panels)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

DATASOURCE_UID = "bearwatch-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
GRAFANA_DATASOURCE = {"type": "grafana", "uid": "-- Grafana --"}
SCHEMA_VERSION = 39  # Grafana 11.x
GRID_WIDTH = 24
REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Panel = dict[str, Any]


def query(expr: str, legend: str = "", *, instant: bool = False, table: bool = False,
          interval: str = "") -> dict[str, Any]:
    """One Prometheus target (``refId`` is filled in by :func:`panel`); ``table`` implies an instant query."""
    target: dict[str, Any] = {
        "datasource": dict(DATASOURCE), "expr": expr, "legendFormat": legend or "__auto",
        "instant": instant or table, "range": not (instant or table), "format": "table" if table else "time_series",
        "editorMode": "code",
    }
    if interval:
        target["interval"] = interval
    return target


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    """``thresholds((None, "green"), (0.5, "orange"), (0.7, "red"))``: the first step has no lower bound."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


NEGATIVE_SHARE_STEPS = thresholds((None, "green"), (0.4, "yellow"), (0.55, "orange"), (0.7, "red"))


def panel(
    kind: str, title: str, description: str, targets: Sequence[dict[str, Any]], *, unit: str | None = None,
    minimum: float | None = None, maximum: float | None = None, steps: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None, custom: dict[str, Any] | None = None,
    overrides: Sequence[dict[str, Any]] = (), transformations: Sequence[dict[str, Any]] = (),
    color: dict[str, Any] | None = None, decimals: int | None = None,
) -> Panel:
    """A query panel of type ``kind`` (timeseries, stat, bargauge, table, heatmap, state-timeline, gauge...)."""
    defaults: dict[str, Any] = {}
    for key, value in (("unit", unit), ("min", minimum), ("max", maximum), ("thresholds", steps),
                       ("custom", custom), ("color", color), ("decimals", decimals)):
        if value is not None:
            defaults[key] = value
    built: Panel = {
        "type": kind, "title": title, "description": description, "datasource": dict(DATASOURCE),
        "targets": [{**target, "refId": REF_IDS[i]} for i, target in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options or {},
    }
    if transformations:
        built["transformations"] = list(transformations)
    return built


def timeseries(title: str, description: str, targets: Sequence[dict[str, Any]], *, unit: str = "short",
               stack: bool = False, bars: bool = False, **kwargs: Any) -> Panel:
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 2, "fillOpacity": 60 if bars else 10,
              "showPoints": "never", "spanNulls": False,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    options = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                          "calcs": ["lastNotNull", "max"]},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, description, targets, unit=unit, custom=custom, options=options, **kwargs)


def stat(title: str, description: str, targets: Sequence[dict[str, Any]], *, unit: str = "short",
         **kwargs: Any) -> Panel:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "area", "textMode": "auto", "justifyMode": "auto",
               "orientation": "auto"}
    return panel("stat", title, description, targets, unit=unit, options=options, **kwargs)


def bargauge(title: str, description: str, targets: Sequence[dict[str, Any]], *, unit: str = "short",
             **kwargs: Any) -> Panel:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True, "minVizHeight": 10,
               "valueMode": "color", "namePlacement": "left", "sizing": "auto"}
    return panel("bargauge", title, description, targets, unit=unit, options=options, **kwargs)


def table(title: str, description: str, targets: Sequence[dict[str, Any]], *, rename: dict[str, str],
          sort_by: str | None = None, descending: bool = True, exclude: Sequence[str] = (), **kwargs: Any) -> Panel:
    """An instant-query table: series are merged into rows by their labels, ``rename`` maps column names."""
    hidden = {name: True for name in ("Time", *exclude)}
    transformations: list[dict[str, Any]] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": hidden, "renameByName": rename,
                                       "indexByName": {name: i for i, name in enumerate(rename)}}},
    ]
    if sort_by:
        transformations.append({"id": "sortBy", "options": {"sort": [{"field": sort_by, "desc": descending}]}})
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return panel("table", title, description, targets, options=options, transformations=transformations, **kwargs)


def text(title: str, content: str, description: str = "") -> Panel:
    return {"type": "text", "title": title, "description": description or title,
            "options": {"mode": "markdown", "content": content}}


class Grid:
    """Places panels left to right, starting a new line when the 24-column width is full."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.line_height = 0

    def row(self, title: str) -> Panel:
        self.newline()
        built = {"type": "row", "title": title, "collapsed": False, "panels": [],
                 "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self.y}}
        self.y += 1
        return built

    def newline(self) -> None:
        self.y += self.line_height
        self.x = 0
        self.line_height = 0

    def place(self, built: Panel, w: int, h: int) -> Panel:
        if self.x + w > GRID_WIDTH:
            self.newline()
        built["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.line_height = max(self.line_height, h)
        return built


def prometheus_annotation(name: str, expr: str, *, title: str, text_format: str, tags: str,
                          color: str = "red") -> dict[str, Any]:
    """Annotations where ``expr`` has a series: a firing alert shows as a shaded region on every time series."""
    return {"datasource": dict(DATASOURCE), "enable": True, "hide": False, "iconColor": color, "name": name,
            "expr": expr, "step": "60s", "titleFormat": title, "textFormat": text_format, "tagKeys": tags,
            "useValueForTime": False}


def grafana_tag_annotation(name: str, tags: list[str], color: str = "purple") -> dict[str, Any]:
    """Annotations the alerts stage posts through the Grafana API (tags ``bearwatch``, rule, key, status)."""
    return {"datasource": dict(GRAFANA_DATASOURCE), "enable": True, "hide": False, "iconColor": color,
            "name": name, "target": {"type": "tags", "tags": tags, "limit": 100, "matchAny": False}}


BUILTIN_ANNOTATION = {
    "builtIn": 1, "datasource": dict(GRAFANA_DATASOURCE), "enable": True, "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
}


def dashboard(
    uid: str, title: str, description: str, panels: Iterable[Panel], *, tags: Sequence[str] = ("bearwatch",),
    variables: Sequence[dict[str, Any]] = (), annotations: Sequence[dict[str, Any]] = (),
    time_from: str = "now-6h", refresh: str = "30s", links: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The whole dashboard; panel ids are assigned here, in order, so they are unique and stable."""
    numbered = []
    for number, built in enumerate(panels, start=1):
        numbered.append({"id": number, **built})
    return {
        "id": None, "uid": uid, "title": title, "description": description, "tags": list(tags),
        "timezone": "utc", "editable": True, "graphTooltip": 1, "schemaVersion": SCHEMA_VERSION, "version": 1,
        "refresh": refresh, "time": {"from": time_from, "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
        "templating": {"list": list(variables)},
        "annotations": {"list": [dict(BUILTIN_ANNOTATION), *annotations]},
        "links": list(links),
        "panels": numbered,
    }


def dashboard_link(title: str, tags: Sequence[str] = ("bearwatch",)) -> dict[str, Any]:
    return {"title": title, "type": "dashboards", "tags": list(tags), "asDropdown": True, "includeVars": False,
            "keepTime": True, "targetBlank": False, "icon": "external link", "tooltip": "", "url": ""}


def query_variable(name: str, label: str, definition: str, description: str) -> dict[str, Any]:
    """A template variable filled from Prometheus label values (``label_values(metric{...}, label)``)."""
    return {
        "type": "query", "name": name, "label": label, "description": description,
        "datasource": dict(DATASOURCE), "definition": definition,
        "query": {"query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
        "refresh": 2, "sort": 1, "includeAll": False, "multi": False, "current": {}, "options": [],
        "hide": 0, "regex": "", "skipUrlSync": False,
    }
