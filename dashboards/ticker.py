"""Dashboard 2, "Bearwatch — Ticker drill-down": one company's news sentiment against its own baseline.

The ``$ticker`` variable lists the tickers the worker exports, i.e. the top N by news volume over the last hour
(``gauge_top_tickers``, 50 by default): label cardinality stays bounded, and a ticker with no news this hour
drops out of the list until it has news again. The baseline is the mean of the ticker's own 1 h share over the
last 7 days, the same horizon as the shipped rules' baseline.
"""

from __future__ import annotations

from typing import Any

from dashboards.builder import (
    NEGATIVE_SHARE_STEPS,
    Grid,
    dashboard,
    dashboard_link,
    grafana_tag_annotation,
    prometheus_annotation,
    query,
    query_variable,
    stat,
    table,
    thresholds,
    timeseries,
)
from dashboards.builder import panel as raw_panel
from dashboards.market import gauge

TICKER = "$ticker"
BASELINE = f"avg(avg_over_time({gauge('negative_ratio', 'ticker', '1h', TICKER)}[7d]))"
FIRING = f'bearwatch_alert_firing_info{{scope="ticker",key="{TICKER}"}}'


def _now(grid: Grid) -> list[dict[str, Any]]:
    panels = [
        stat("Negative share · 15 min",
             "Share of $ticker's stories in the last 15 minutes scored negative. Compare it with the 1 h value "
             "and the baseline next to it.",
             [query(f"max({gauge('negative_ratio', 'ticker', '15m', TICKER)})")], unit="percentunit", decimals=0,
             minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS),
        stat("Negative share · 1 h",
             "Share of $ticker's stories in the last hour scored negative.",
             [query(f"max({gauge('negative_ratio', 'ticker', '1h', TICKER)})")], unit="percentunit", decimals=0,
             minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS),
        stat("Baseline negative share · 7 d",
             "What is normal for $ticker: the mean of its 1 h negative share over the last 7 days. The 1 h value "
             "far above this is unusual for this company, even if the absolute level looks modest.",
             [query(BASELINE)], unit="percentunit", decimals=0, minimum=0, maximum=1, steps=NEGATIVE_SHARE_STEPS),
        stat("Stories · 1 h",
             "How many stories about $ticker the last hour holds; shares from a handful of stories are noisy.",
             [query(f"max({gauge('stories', 'ticker', '1h', TICKER)})")], decimals=0),
        stat("Mean score · 1 h",
             "Mean sentiment score (positive minus negative probability, -1 to 1) of $ticker's last hour. "
             "Below -0.6 over enough stories is what the ticker_very_negative rule fires on.",
             [query(f"max({gauge('mean_score', 'ticker', '1h', TICKER)})")], decimals=2, minimum=-1, maximum=1,
             steps=thresholds((None, "red"), (-0.3, "orange"), (0, "green"))),
        stat("Firing alerts on $ticker",
             "Alerts firing now whose key is $ticker (any rule, any severity).",
             [query(f"count({FIRING}) or vector(0)")], decimals=0, steps=thresholds((None, "green"), (1, "red"))),
    ]
    return [grid.place(p, w=4, h=4) for p in panels]


def _over_time(grid: Grid) -> list[dict[str, Any]]:
    versus = timeseries(
        "Negative share vs baseline",
        "$ticker's negative share over 15 min and 1 h, its 7-day baseline and the whole market's 1 h share. "
        "The ticker above both its baseline and the market is company-specific bad news; moving with the "
        "market is the market. Shaded regions are its firing alerts.",
        [query(f"max by (window) ({gauge('negative_ratio', 'ticker', key=TICKER)})", "$ticker, {{window}}"),
         query(BASELINE, "$ticker baseline (7 d mean of 1 h)"),
         query(f"max({gauge('negative_ratio', 'market', '1h')})", "market, 1h")],
        unit="percentunit", minimum=0, maximum=1)
    volume = timeseries(
        "News volume",
        "Stories about $ticker in the 15 min and 1 h windows, raw and novelty-weighted. A jump in volume with a "
        "rising negative share is the pattern alerts look for.",
        [query(f"max by (window) ({gauge('stories', 'ticker', key=TICKER)})", "stories, {{window}}"),
         query(f"max by (window) ({gauge('novelty_weighted_stories', 'ticker', key=TICKER)})",
               "novelty-weighted, {{window}}")])
    score = timeseries(
        "Mean sentiment score",
        "Mean score of $ticker's stories (-1 all negative, +1 all positive) over 15 min and 1 h. It moves with "
        "how strongly negative the stories are, where the share only counts them.",
        [query(f"max by (window) ({gauge('mean_score', 'ticker', key=TICKER)})", "{{window}}")],
        minimum=-1, maximum=1)
    excess = timeseries(
        "Negative share above the market",
        "$ticker's negative share minus the market's, per window. Above zero the company's news is darker than "
        "the market's; a sustained gap is worth reading the headlines for.",
        [query(f"max by (window) ({gauge('negative_ratio', 'ticker', key=TICKER)}) - on (window) "
               f"max by (window) ({gauge('negative_ratio', 'market')})", "{{window}}")],
        unit="percentunit", minimum=-1, maximum=1)
    return [grid.place(versus, w=16, h=9), grid.place(volume, w=8, h=9),
            grid.place(score, w=12, h=8), grid.place(excess, w=12, h=8)]


def _alerts(grid: Grid) -> list[dict[str, Any]]:
    firing = table(
        "Firing alerts on $ticker",
        "Rules firing now for $ticker, with severity. The full text and the headlines that triggered them go "
        "to the webhooks and appear as annotations.",
        [query(f"max by (rule, severity) ({FIRING})", table=True)],
        rename={"rule": "Rule", "severity": "Severity"}, exclude=("Value",))
    history = raw_panel(
        "state-timeline", "Recent alerts on $ticker",
        "When each rule was firing for $ticker over the time range (coloured bars). Frequent short bars mean "
        "the rule is flapping for this ticker.",
        [query(f"max by (rule) ({FIRING})", "{{rule}}")],
        steps=thresholds((None, "transparent"), (1, "red")), color={"mode": "thresholds"},
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8, "alignValue": "left",
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "single", "sort": "none"}})
    return [grid.place(firing, w=8, h=7), grid.place(history, w=16, h=7)]


def build() -> dict[str, Any]:
    grid = Grid()
    panels = [grid.row("$ticker now"), *_now(grid), grid.row("$ticker over time"), *_over_time(grid),
              grid.row("$ticker alerts"), *_alerts(grid)]
    return dashboard(
        "bearwatch-ticker", "Bearwatch — Ticker drill-down",
        "One ticker's news sentiment (choose it with the Ticker variable): negative share against its 7-day "
        "baseline and the market, volume, mean score and its alerts.",
        panels, tags=("bearwatch",), time_from="now-24h",
        variables=[query_variable(
            "ticker", "Ticker", 'label_values(bearwatch_sentiment_stories{scope="ticker"}, key)',
            "Tickers exported by the worker: the top N by news volume over the last hour.")],
        annotations=[
            prometheus_annotation("Firing alerts on $ticker", f"max by (rule, severity) ({FIRING})",
                                  title="{{rule}}", text_format="$ticker ({{severity}})", tags="rule,severity"),
            grafana_tag_annotation("Alert notifications on $ticker (Grafana API)", ["bearwatch", "$ticker"]),
        ],
        links=[dashboard_link("Bearwatch dashboards")],
    )
