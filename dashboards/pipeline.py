"""Dashboard 3, "Bearwatch — Pipeline health": is every stage keeping up, and where does it hurt.

Follows the flow: ingest (feeds → ``news.raw``), the stream worker (model, windows, Kafka lag, dead letters),
alert delivery (webhooks), and the sentiment gauges themselves. Rates are per minute, since news is slow.
"""

from __future__ import annotations

from typing import Any

from dashboards.builder import (
    Grid,
    bargauge,
    dashboard,
    dashboard_link,
    query,
    stat,
    thresholds,
    timeseries,
)
from dashboards.builder import panel as raw_panel

RATE = "[$__rate_interval]"


def per_minute(metric: str, by: str = "", selector: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{selector}{RATE})) * 60"


def quantile(q: float, histogram: str, by: str = "") -> str:
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({histogram}_bucket{RATE})))"


def _ingest(grid: Grid) -> list[dict[str, Any]]:
    produced = timeseries(
        "Stories produced per minute, by feed",
        "New stories each feed hands to Kafka (after de-duplication). A feed that drops to zero for longer than "
        "its usual quiet spells is broken or blocked: check Feed health and Poll errors.",
        [query(per_minute("bearwatch_ingest_stories_produced_total", "feed"), "{{feed}}")], stack=True)
    health = raw_panel(
        "state-timeline", "Feed health",
        "Green while a feed polls fine, red once it is marked unhealthy after repeated failures (it is then "
        "probed rarely). Red rows need an operator: the URL moved, the site blocks us, or the format changed.",
        [query("min by (feed) (bearwatch_ingest_feed_healthy)", "{{feed}}")],
        steps=thresholds((None, "red"), (1, "green")), color={"mode": "thresholds"},
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8, "alignValue": "left",
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "single", "sort": "none"}})
    errors = timeseries(
        "Poll errors per minute, by feed and kind",
        "Failed polls by cause (timeout, http_4xx, http_5xx, rate_limited, parse...). A steady trickle from one "
        "feed is normal internet weather; many feeds failing at once points at our network or DNS.",
        [query(per_minute("bearwatch_ingest_errors_total", "feed, kind"), "{{feed}}: {{kind}}")])
    since = bargauge(
        "Time since last good poll",
        "Seconds since each feed last answered properly. Longer than a few poll intervals means the feed is "
        "stale even if it is not yet marked unhealthy.",
        [query("sort_desc(time() - max by (feed) (bearwatch_ingest_feed_last_success_timestamp_seconds))",
               "{{feed}}", instant=True)],
        unit="s", steps=thresholds((None, "green"), (900, "orange"), (3600, "red")), color={"mode": "thresholds"})
    dedup = timeseries(
        "Duplicates and near-duplicates per minute",
        "Entries dropped as exact duplicates (already produced) and stories joining a near-duplicate cluster "
        "(produced with lower novelty). A jump in near-duplicates is syndication of one big story.",
        [query(per_minute("bearwatch_ingest_duplicates_dropped_total"), "exact duplicates dropped"),
         query(per_minute("bearwatch_ingest_near_duplicates_total"), "near-duplicates")])
    polling = timeseries(
        "Poll duration p50 / p99 and produce queue",
        "How long one poll takes (fetch, parse, hand-off) and how many stories wait for the broker. A growing "
        "queue means Kafka is slow or down; slow polls alone are usually a slow website.",
        [query(quantile(0.5, "bearwatch_ingest_poll_duration_seconds"), "poll p50"),
         query(quantile(0.99, "bearwatch_ingest_poll_duration_seconds"), "poll p99"),
         query("max(bearwatch_ingest_produce_queue_stories)", "produce queue (stories)")],
        unit="s", overrides=[{"matcher": {"id": "byName", "options": "produce queue (stories)"},
                              "properties": [{"id": "unit", "value": "short"},
                                             {"id": "custom.axisPlacement", "value": "right"}]}])
    return [grid.place(produced, w=12, h=8), grid.place(health, w=12, h=8),
            grid.place(errors, w=8, h=8), grid.place(since, w=8, h=8), grid.place(dedup, w=8, h=8),
            grid.place(polling, w=24, h=7)]


def _worker(grid: Grid) -> list[dict[str, Any]]:
    flow = timeseries(
        "Messages per minute, by agent",
        "Messages each worker agent reads (in) and produces (out): score reads raw news and writes scored news, "
        "aggregate writes alerts, notify queues notifications. In far above out for score means dead letters.",
        [query(per_minute("bearwatch_worker_messages_in_total", "agent"), "{{agent}} in"),
         query(per_minute("bearwatch_worker_messages_out_total", "agent"), "{{agent}} out")])
    lag = timeseries(
        "Kafka consumer lag, by topic",
        "Messages waiting to be read, summed over partitions. Lag that keeps growing means the worker cannot "
        "keep up: add workers (up to the partition count) or a faster model/device.",
        [query("sum by (topic) (max by (topic, partition) (bearwatch_kafka_consumer_lag_messages))", "{{topic}}")],
        decimals=0)
    batches = timeseries(
        "Micro-batch size, by agent",
        "Mean and p90 stories per micro-batch. Batches near the configured batch_size mean the model is the "
        "bottleneck; tiny batches mean news is slow and the max wait decides the batch.",
        [query(f"sum by (agent) (rate(bearwatch_worker_batch_size_sum{RATE})) / "
               f"sum by (agent) (rate(bearwatch_worker_batch_size_count{RATE}))", "{{agent}} mean"),
         query(quantile(0.9, "bearwatch_worker_batch_size", "agent"), "{{agent}} p90")])
    latency = timeseries(
        "Model latency per micro-batch p50 / p99",
        "Time the model spends on one micro-batch. p99 far above p50 points at long texts or CPU contention; "
        "together with the batch size it gives the stories per second the worker can score.",
        [query(quantile(0.5, "bearwatch_model_batch_latency_seconds"), "p50"),
         query(quantile(0.99, "bearwatch_model_batch_latency_seconds"), "p99")], unit="s")
    dead = timeseries(
        "Dead letters per minute, by reason",
        "Messages the worker could not use and sent to the dead-letter topic (malformed JSON, schema errors, "
        "oversized text, model errors after bisection). Any sustained rate is a producer bug to chase.",
        [query(per_minute("bearwatch_worker_dead_letters_total", "reason"), "{{reason}}")], bars=True)
    windows = timeseries(
        "Window updates per minute, by outcome",
        "Stories counted into the Redis windows (applied), seen again and ignored (duplicate: redelivery or "
        "replay) and older than the watermark (late, still counted). Many late stories: raise the lateness.",
        [query(per_minute("bearwatch_windows_updates_total", "outcome"), "{{outcome}}")], stack=True)
    errors = stat(
        "Model and Redis errors · 1 h",
        "Model calls that raised (before retry/bisection) and Redis calls that failed and were retried, over "
        "the last hour. Non-zero is worth a look in the worker log.",
        [query("sum(increase(bearwatch_model_errors_total[1h]))", "model errors"),
         query("sum(increase(bearwatch_worker_redis_errors_total[1h]))", "Redis errors")],
        decimals=0, steps=thresholds((None, "green"), (1, "orange")))
    memory = timeseries(
        "Resident memory, by process",
        "RSS of each Bearwatch process. After warm-up it should be flat; a steady climb is a leak to report "
        "(bench/resilience's soak asserts < 10 % growth over 30 minutes).",
        [query("max by (job) (process_resident_memory_bytes)", "{{job}}")], unit="bytes")
    tasks = timeseries(
        "Asyncio tasks, by service",
        "Tasks alive in each service's event loop. It moves with feeds in flight and batches, but a count that "
        "only ever rises is a task leak.",
        [query("max by (service) (bearwatch_asyncio_tasks)", "{{service}}")], decimals=0)
    return [grid.place(flow, w=8, h=8), grid.place(lag, w=8, h=8), grid.place(batches, w=8, h=8),
            grid.place(latency, w=8, h=8), grid.place(dead, w=8, h=8), grid.place(windows, w=8, h=8),
            grid.place(memory, w=9, h=8), grid.place(tasks, w=9, h=8), grid.place(errors, w=6, h=5)]


def _latency(grid: Grid) -> list[dict[str, Any]]:
    stages = timeseries(
        "Produce → scored / windowed / decided, p50 and p99",
        "Seconds from a story's produce to news.raw (its Kafka timestamp) until it is scored and in news.scored, "
        "counted in the Redis windows, and evaluated by the detector with any alert handed on. Targets at half "
        "capacity: decision p50 under 1 s, p99 under 2 s. A p99 that climbs for minutes means a backlog.",
        [query(quantile(0.5, "bearwatch_pipeline_latency_seconds", "stage"), "{{stage}} p50"),
         query(quantile(0.99, "bearwatch_pipeline_latency_seconds", "stage"), "{{stage}} p99")], unit="s")
    loop = timeseries(
        "Event-loop lag p99, by service",
        "How late each service's event loop runs a probe that asks to wake every 100 ms. Anything that holds "
        "the loop delays every heartbeat, commit and HTTP answer by as much; above 100 ms is worth a profile "
        "(Faust logs 'Timer livelock' at a few seconds).",
        [query(quantile(0.99, "bearwatch_event_loop_lag_seconds", "service"), "{{service}} p99"),
         query(quantile(0.5, "bearwatch_event_loop_lag_seconds", "service"), "{{service}} p50")], unit="s")
    capacity = timeseries(
        "Live scoring rate and backlog",
        "Stories scored per second (last minute, summed over workers) against the stories waiting in news.raw "
        "and news.scored. A backlog that rises while the rate is flat at its ceiling means the news outruns "
        "the workers: it drains once the rate is above the inflow.",
        [query("sum(bearwatch_worker_scoring_rate_stories_per_second)", "scored / s"),
         query("sum(bearwatch_worker_backlog_stories)", "backlog (stories)")],
        overrides=[{"matcher": {"id": "byName", "options": "backlog (stories)"},
                    "properties": [{"id": "custom.axisPlacement", "value": "right"}]}])
    behind = stat(
        "Worker behind by",
        "0 when every worker is caught up; else the age of the stories the slowest worker decides now. Above "
        "5 s the worker's /health and the status page say it is behind, with the queue and the time to drain.",
        [query("max(bearwatch_worker_behind_seconds)", "behind")], unit="s",
        steps=thresholds((None, "green"), (5, "orange"), (60, "red")))
    return [grid.place(stages, w=9, h=8), grid.place(loop, w=6, h=8), grid.place(capacity, w=6, h=8),
            grid.place(behind, w=3, h=8)]


def _delivery(grid: Grid) -> list[dict[str, Any]]:
    attempts = timeseries(
        "Webhook delivery attempts per minute, by channel and outcome",
        "Each HTTP attempt to a receiver: ok, retry (5xx, timeout, 429: tried again with backoff) or rejected "
        "(4xx: dead-lettered at once). Retries that never turn into ok mean a receiver is down.",
        [query(per_minute("bearwatch_alerts_delivery_attempts_total", "channel, outcome"),
               "{{channel}}: {{outcome}}")], bars=True)
    outbox = timeseries(
        "Outbox backlog, by channel",
        "Notifications waiting in each channel's durable outbox. It drains to zero when receivers answer; a "
        "growing backlog means a receiver is down (nothing is lost, it is delivered when it is back).",
        [query("max by (channel) (bearwatch_alerts_outbox_entries)", "{{channel}}")], decimals=0)
    latency = timeseries(
        "Delivery latency p99, by channel",
        "Time of one delivery attempt. Close to the channel's timeout means the receiver is struggling.",
        [query(quantile(0.99, "bearwatch_alerts_delivery_seconds", "channel"), "{{channel}}")], unit="s")
    dead = stat(
        "Notifications dead-lettered · 24 h",
        "Notifications given up on (rejected by the receiver or out of attempts), by channel. Each one is an "
        "alert somebody did not get: inspect with `bearwatch alerts dead-letters`.",
        [query("sum by (channel) (increase(bearwatch_alerts_dead_letters_total[24h]))", "{{channel}}")],
        decimals=0, steps=thresholds((None, "green"), (1, "red")))
    return [grid.place(attempts, w=9, h=8), grid.place(outbox, w=5, h=8), grid.place(latency, w=5, h=8),
            grid.place(dead, w=5, h=8)]


def _gauges(grid: Grid) -> list[dict[str, Any]]:
    refresh = timeseries(
        "Sentiment gauge refresh",
        "Time the worker takes to re-read the sentiment gauges from Redis, and failed refreshes per minute. "
        "While refreshes fail, the sentiment panels show the last good values.",
        [query("max(bearwatch_sentiment_gauges_refresh_duration_seconds)", "refresh duration"),
         query(per_minute("bearwatch_sentiment_gauges_refresh_errors_total"), "failed refreshes / min")],
        unit="s")
    tickers = timeseries(
        "Tickers with news vs tickers exported",
        "Tickers with news in the last hour, and how many of them are exported as gauges (the top N by "
        "volume). The gap is what the cardinality cap leaves out of the ticker drill-down.",
        [query("max(bearwatch_sentiment_active_tickers)", "tickers with news (1 h)"),
         query('count(count by (key) (bearwatch_sentiment_stories{scope="ticker"}))', "tickers exported")],
        decimals=0)
    return [grid.place(refresh, w=12, h=7), grid.place(tickers, w=12, h=7)]


def build() -> dict[str, Any]:
    grid = Grid()
    panels = [grid.row("Ingest (consumers)"), *_ingest(grid), grid.row("Stream worker"), *_worker(grid),
              grid.row("Latency and capacity"), *_latency(grid),
              grid.row("Alert delivery"), *_delivery(grid), grid.row("Sentiment gauges"), *_gauges(grid)]
    return dashboard(
        "bearwatch-pipeline", "Bearwatch — Pipeline health",
        "Every stage of Bearwatch from feed to webhook: ingest rate and feed health, Kafka lag, micro-batches, "
        "model latency, dead letters, window updates, produce-to-decision latency, event-loop lag and alert "
        "delivery.",
        panels, time_from="now-3h",
        links=[dashboard_link("Bearwatch dashboards")],
    )
