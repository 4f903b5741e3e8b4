"""Dashboard 1, "Bearwatch — Market overview": is the news turning negative, where, and what is firing.

Every sentiment number here comes from the worker's gauges (``bearwatch_sentiment_*``), which are read from the
Redis event-time windows at the watermark. Several workers export identical values, so queries take ``max by``
over the labels that matter instead of summing duplicates.
"""

from __future__ import annotations

from typing import Any

from dashboards.builder import (
    NEGATIVE_SHARE_STEPS,
    Grid,
    bargauge,
    dashboard,
    dashboard_link,
    grafana_tag_annotation,
    prometheus_annotation,
    query,
    stat,
    table,
    thresholds,
    timeseries,
)
from dashboards.builder import panel as raw_panel

MIN_TICKER_STORIES = 3  # same guard as the status page: one stray headline cannot top the table


def gauge(metric: str, scope: str, window: str | None = None, key: str | None = None) -> str:
    """A selector over one sentiment gauge, e.g. ``bearwatch_sentiment_stories{scope="market",window="1h"}``."""
    matchers = [f'scope="{scope}"']
    if key is not None:
        matchers.append(f'key="{key}"')
    if window is not None:
        matchers.append(f'window="{window}"')
    return f"bearwatch_sentiment_{metric}{{{','.join(matchers)}}}"


def by_key(metric: str, scope: str, window: str) -> str:
    return f"max by (key) ({gauge(metric, scope, window)})"


def active(metric: str, scope: str, window: str, min_stories: int = 1) -> str:
    """``metric`` per key, only for keys with at least ``min_stories`` stories in the window."""
    return f"{by_key(metric, scope, window)} and on (key) {by_key('stories', scope, window)} >= {min_stories}"


MOST_NEGATIVE_TICKERS = f"topk(15, {active('negative_ratio', 'ticker', '1h', MIN_TICKER_STORIES)})"
FIRING_INFO = "max by (severity, rule, scope, key) (bearwatch_alert_firing_info)"


def _kpis(grid: Grid) -> list[dict[str, Any]]:
    share_15m = stat(
        "Market negative share · 15 min",
        "Share of all stories in the last 15 minutes of event time that the model scored negative. Above the "
        "1 h value means the mood is darkening right now; orange and red are levels the shipped rules watch.",
        [query(f"max({gauge('negative_ratio', 'market', '15m')})")], unit="percentunit", decimals=1,
        minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS)
    share_1h = stat(
        "Market negative share · 1 h",
        "The same share over the last hour: steadier, and the window of the market_negative_shift rule.",
        [query(f"max({gauge('negative_ratio', 'market', '1h')})")], unit="percentunit", decimals=1,
        minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS)
    volume = stat(
        "Stories · 1 h",
        "How many scored stories the last hour holds. A share computed from a handful of stories means little: "
        "read the shares together with this number.",
        [query(f"max({gauge('stories', 'market', '1h')})")], decimals=0)
    novelty = stat(
        "Novelty-weighted stories · 1 h",
        "Stories weighted by novelty: one story syndicated by ten feeds counts about once. Far below the raw "
        "count means the hour is dominated by re-runs of a few stories.",
        [query(f"max({gauge('novelty_weighted_stories', 'market', '1h')})")], decimals=1)
    firing = stat(
        "Firing alerts",
        "Alerts firing now, all severities. Details are in the Firing alerts table below.",
        [query("sum(max by (severity) (bearwatch_alerts_firing))")], decimals=0,
        steps=thresholds((None, "green"), (1, "red")))
    lag = stat(
        "Watermark behind wall clock",
        "How far the event-time watermark (newest story minus the allowed lateness) trails now. It grows when "
        "no news arrives or the pipeline stalls; in a replay it shows how old the replayed news is.",
        [query("time() - max(bearwatch_sentiment_watermark_timestamp_seconds)")], unit="s", decimals=0,
        steps=thresholds((None, "green"), (900, "orange"), (3600, "red")))
    return [grid.place(p, w=4, h=4) for p in (share_15m, share_1h, volume, novelty, firing, lag)]


def _over_time(grid: Grid) -> list[dict[str, Any]]:
    share = timeseries(
        "Market negative share",
        "Negative share of all news over the 15 min and 1 h windows. Shaded regions are firing alerts. A 15 min "
        "line that leaves the 1 h line upwards and stays there is the start of a negative news wave.",
        [query(f"max by (window) ({gauge('negative_ratio', 'market')})", "{{window}} window")],
        unit="percentunit", minimum=0, maximum=1)
    volume = timeseries(
        "Market news volume",
        "Stories in the 15 min and 1 h windows, raw and novelty-weighted. Spikes in volume often come before "
        "shifts in sentiment; a raw count far above the weighted one means heavy syndication.",
        [query(f"max by (window) ({gauge('stories', 'market')})", "stories, {{window}}"),
         query(f"max by (window) ({gauge('novelty_weighted_stories', 'market')})", "novelty-weighted, {{window}}")])
    scored = timeseries(
        "Stories scored per minute, by sentiment",
        "Throughput of the model by predicted class, in wall-clock time (unlike the windows, which are in event "
        "time). Red growing against green and grey is the same story as the share panel, seen live.",
        [query("sum by (sentiment) (rate(bearwatch_stories_scored_total[$__rate_interval])) * 60",
               "{{sentiment}}")], unit="short", stack=True,
        overrides=[_color("negative", "red"), _color("neutral", "text"), _color("positive", "green")])
    return [grid.place(p, w=8, h=9) for p in (share, volume, scored)]


def _color(series: str, color: str) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": series},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}


def _topics(grid: Grid) -> list[dict[str, Any]]:
    now = bargauge(
        "Negative share by topic · 1 h",
        "For each of the 20 topics with news in the last hour, the share scored negative. The longest red bars "
        "are the themes driving the market's mood. A topic with only a few stories can show an extreme share: "
        "check its volume before acting on it.",
        [query(f"sort_desc({active('negative_ratio', 'topic', '1h')})", "{{key}}", instant=True)],
        unit="percentunit", minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS,
        color={"mode": "thresholds"})
    history = raw_panel(
        "status-history", "Topic negative share over time (heatmap)",
        "One row per topic, one cell per 10 minutes, coloured by the 1 h negative share (green calm, red "
        "negative). A row turning red across the board is a topic-wide wave; isolated red cells are one-off "
        "stories.",
        [query(active("negative_ratio", "topic", "1h"), "{{key}}", interval="10m")],
        unit="percentunit", minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS, color={"mode": "thresholds"},
        options={"showValue": "never", "rowHeight": 0.9, "colWidth": 0.95,
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "single", "sort": "none"}})
    return [grid.place(now, w=10, h=12), grid.place(history, w=14, h=12)]


def _tickers(grid: Grid) -> list[dict[str, Any]]:
    most_negative = table(
        "Most negative tickers · 1 h",
        f"Tickers among the exported top N by volume with at least {MIN_TICKER_STORIES} stories in the last "
        "hour, most negative first. Compare the 15 min column with the 1 h one: higher means it is getting "
        "worse. Open the ticker drill-down for its history and baseline.",
        [query(MOST_NEGATIVE_TICKERS, table=True),
         query(f"{by_key('negative_ratio', 'ticker', '15m')} and on (key) ({MOST_NEGATIVE_TICKERS})", table=True),
         query(f"{by_key('stories', 'ticker', '1h')} and on (key) ({MOST_NEGATIVE_TICKERS})", table=True),
         query(f"{by_key('mean_score', 'ticker', '1h')} and on (key) ({MOST_NEGATIVE_TICKERS})", table=True)],
        rename={"key": "Ticker", "Value #A": "Negative share 1h", "Value #B": "Negative share 15m",
                "Value #C": "Stories 1h", "Value #D": "Mean score 1h"},
        sort_by="Negative share 1h",
        overrides=[{"matcher": {"id": "byRegexp", "options": "Negative share.*"},
                    "properties": [{"id": "unit", "value": "percentunit"},
                                   {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                                   {"id": "thresholds", "value": NEGATIVE_SHARE_STEPS}]}])
    busiest = timeseries(
        "Negative share of the five busiest tickers · 1 h",
        "The 1 h negative share of the five tickers with the most news right now. A busy ticker whose line "
        "climbs is where a headline risk is building.",
        [query(f"{by_key('negative_ratio', 'ticker', '1h')} and on (key) "
               f"topk(5, {by_key('stories', 'ticker', '1h')})", "{{key}}")],
        unit="percentunit", minimum=0, maximum=1)
    return [grid.place(most_negative, w=12, h=10), grid.place(busiest, w=12, h=10)]


def _alerts(grid: Grid) -> list[dict[str, Any]]:
    firing = table(
        "Firing alerts",
        "Every alert firing now (critical first): the rule, what it is about (scope and key) and its severity. "
        "An empty table is good news. History is in the shaded regions on the time series.",
        [query(FIRING_INFO, table=True)],
        rename={"severity": "Severity", "rule": "Rule", "scope": "Scope", "key": "Key"}, exclude=("Value",),
        sort_by="Severity", descending=False)
    by_severity = timeseries(
        "Firing alerts by severity",
        "How many alerts fire at each severity over time. A growing stack of warnings across many tickers "
        "usually means a market-wide story rather than company news.",
        [query("max by (severity) (bearwatch_alerts_firing)", "{{severity}}")], stack=True, bars=True,
        decimals=0, overrides=[_color("critical", "red"), _color("warning", "orange"), _color("info", "blue")])
    changes = timeseries(
        "Alert state changes",
        "Alerts fired and resolved per interval (each also goes to the configured webhooks). Many fire/resolve "
        "pairs in a row is flapping: raise the rule's `for` or cooldown.",
        [query("sum by (status, severity) (increase(bearwatch_alerts_emitted_total[$__rate_interval]))",
               "{{status}} {{severity}}")], bars=True, decimals=0)
    return [grid.place(firing, w=10, h=9), grid.place(by_severity, w=7, h=9), grid.place(changes, w=7, h=9)]


def build() -> dict[str, Any]:
    grid = Grid()
    panels = [grid.row("Market now"), *_kpis(grid), grid.row("Market over time"), *_over_time(grid),
              grid.row("Topics"), *_topics(grid), grid.row("Tickers"), *_tickers(grid),
              grid.row("Alerts"), *_alerts(grid)]
    return dashboard(
        "bearwatch-market", "Bearwatch — Market overview",
        "Market-wide news sentiment from Bearwatch: negative share and volume, topics, the most negative tickers "
        "and firing alerts. Windows are in event time (published_at), read at the watermark.",
        panels,
        annotations=[
            prometheus_annotation(
                "Firing alerts (market, topic, critical)",
                "max by (rule, scope, key, severity) (bearwatch_alert_firing_info{scope=~\"market|topic\"} "
                "or bearwatch_alert_firing_info{severity=\"critical\"})",
                title="{{rule}}", text_format="{{scope}} {{key}} ({{severity}})", tags="rule,severity"),
            grafana_tag_annotation("Alert notifications (Grafana API)", ["bearwatch"]),
        ],
        links=[dashboard_link("Bearwatch dashboards")],
    )
