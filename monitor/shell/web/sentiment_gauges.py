"""Sentiment gauges for Prometheus, derived from the Redis event-time windows.

Example::

    gauges = SentimentGauges(store, top_tickers=50)
    gauges.register()          # into prometheus_client's default registry, served on /metrics
    await gauges.refresh()     # a worker timer calls this every few seconds

Why a custom collector rather than ``Gauge.labels(...).set()``: the tickers worth exporting change all the time
(the top N by volume), and a collector that yields only the latest snapshot makes a ticker's series vanish the
moment it leaves the top N, by construction, with no ``remove()`` bookkeeping to get wrong. Label cardinality is
bounded by ``1 + topics + N`` keys times the windows, whatever arrives. The snapshot is refreshed by a timer, never
during a scrape, so a scrape makes no Redis call and cannot hang on Redis; a failed refresh keeps the last
snapshot and counts the failure.

Every value is read at the watermark (event time), as the detector sees it, so the gauges of a replay show the
replayed hours rather than a wall clock that has nothing to do with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.shell.web.alert_source import FiringSource, no_alerts
from monitor.stages.model.labels import TOPIC_LABELS
from monitor.stages.windows import WindowStats, WindowStore, parse_span
from monitor.stages.windows.store import WindowRequest

log = logging.getLogger(__name__)

DEFAULT_WINDOWS = ("15m", "1h")
#: Severities that always have a firing-count series (0 when quiet), so dashboards never show "no data".
BASE_SEVERITIES = ("critical", "warning", "info")
HOUR = 3600
MAX_TOPICS = 64  # a custom model brings its own label map; still, never an unbounded topic label
MAX_ALERT_SERIES = 100
LABELS = ("scope", "key", "window")

REFRESH_ERRORS = Counter(
    "bearwatch_sentiment_gauges_refresh_errors_total",
    "Refreshes of the sentiment gauges that failed (Redis unreachable, ...): the last snapshot stays exported.",
)

# (metric name, help, WindowStats attribute)
WINDOW_METRICS: tuple[tuple[str, str, str], ...] = (
    ("bearwatch_sentiment_negative_ratio",
     "Share of stories scored negative (0-1) in the event-time window ending at the watermark.", "negative_share"),
    ("bearwatch_sentiment_mean_score",
     "Mean sentiment score (p_pos - p_neg, -1..1) of the stories in the window.", "mean_score"),
    ("bearwatch_sentiment_stories",
     "Stories counted in the window (volume).", "count"),
    ("bearwatch_sentiment_novelty_weighted_stories",
     "Stories in the window weighted by novelty: a story syndicated by ten feeds counts about once.",
     "novelty_volume"),
)


@dataclass(frozen=True)
class Snapshot:
    """What the collector exports: one refresh's worth of window statistics and alert counts."""

    rows: tuple[tuple[str, str, str, WindowStats], ...] = ()  # (scope, key, window, stats)
    watermark: datetime | None = None
    active_tickers: int = 0
    firing_by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BASE_SEVERITIES, 0))
    firing: tuple[dict[str, str], ...] = ()  # rule, scope, key, severity of each firing alert (capped)
    refreshed_at: float = 0.0
    refresh_seconds: float = 0.0


def ranking_window(at: datetime, longest: timedelta) -> tuple[datetime, timedelta]:
    """The whole clock hours that contain ``[at - longest, at)``: ``(end, span)``.

    Ranking thousands of tickers by their exact rolling hour would read every minute bucket of every ticker (about
    sixty reads each, on every refresh); whole hours are one or two reads each, because the window store keeps
    hour-sized buckets too. The ranking is then by volume over the last one to two clock hours, and only the
    chosen N are read exactly for export.
    """
    end = datetime.fromtimestamp(-(-int(at.timestamp()) // HOUR) * HOUR, UTC)
    start = datetime.fromtimestamp((int((at - longest).timestamp()) // HOUR) * HOUR, UTC)
    return end, end - start


def rank_by_volume(stats: Iterable[WindowStats], limit: int) -> list[WindowStats]:
    """The ``limit`` keys with the most stories; ties break by key so every worker exports the same set."""
    active = [s for s in stats if s.count > 0]
    active.sort(key=lambda s: (-s.count, s.key))
    return active[:limit]


class SentimentGauges(Collector):
    """A Prometheus collector over a :class:`WindowStore`: market, every topic and the top-N tickers by volume."""

    def __init__(
        self, store: WindowStore, *, top_tickers: int = 50, windows: Sequence[str] = DEFAULT_WINDOWS,
        topics: Sequence[str] = TOPIC_LABELS, firing: FiringSource = no_alerts,
    ) -> None:
        if top_tickers < 0:
            raise ValueError("top_tickers must be 0 or more")
        self.store = store
        self.top_tickers = top_tickers
        self.windows = tuple(windows)
        self.longest = max(parse_span(window) for window in self.windows)  # tickers are ranked over this span
        self.topics = tuple(topics)
        self.firing = firing
        self.snapshot = Snapshot()
        self._failing = False

    # ------------------------------------------------------------------ refresh (a timer calls this)
    async def refresh(self) -> Snapshot:
        """Read every exported window in a few Redis pipelines and swap in the new snapshot."""
        began = time.perf_counter()
        store = self.store
        at = await store.watermark() or datetime.now(UTC)
        longest = self.longest
        seen_topics = await store.keys_seen("topic", since=store.align(at) - longest)
        topics = list(dict.fromkeys([*self.topics, *sorted(seen_topics)]))[:MAX_TOPICS]
        requests: list[WindowRequest] = [("market", "all", w, at) for w in self.windows]
        requests += [("topic", topic, w, at) for topic in topics for w in self.windows]
        base = await store.windows(requests)
        # str(): every window here is one of self.windows' names; the request type also allows a timedelta.
        rows = [(s.scope, s.key, str(window), s) for (_, _, window, _), s in zip(requests, base, strict=True)]

        tickers = await store.keys_seen("ticker", since=store.align(at) - longest)
        chosen: list[str] = []
        if tickers and self.top_tickers:
            rank_at, rank_span = ranking_window(at, longest)
            ranking = await store.windows([("ticker", key, rank_span, rank_at) for key in sorted(tickers)])
            chosen = [stats.key for stats in rank_by_volume(ranking, self.top_tickers)]
        ticker_requests: list[WindowRequest] = [("ticker", key, w, at) for key in chosen for w in self.windows]
        exact = await store.windows(ticker_requests) if ticker_requests else []
        rows += [("ticker", key, str(window), stats) for (_, key, window, _), stats in zip(ticker_requests, exact,
                                                                                      strict=True)]

        alerts = await self.firing()
        by_severity = dict.fromkeys(BASE_SEVERITIES, 0)
        for alert in alerts:
            by_severity[alert["severity"]] = by_severity.get(alert["severity"], 0) + 1
        firing = tuple(
            {"rule": str(a.get("rule") or ""), "scope": str(a.get("scope") or ""), "key": str(a.get("key") or ""),
             "severity": a["severity"]}
            for a in alerts[:MAX_ALERT_SERIES]
        )
        self.snapshot = Snapshot(
            rows=tuple(rows), watermark=await store.watermark(), active_tickers=len(tickers),
            firing_by_severity=by_severity, firing=firing, refreshed_at=time.time(),
            refresh_seconds=time.perf_counter() - began,
        )
        return self.snapshot

    async def refresh_safely(self) -> None:
        """``refresh`` for a timer: a failure is counted and logged once per outage, never raised."""
        try:
            await self.refresh()
        except Exception as exc:  # noqa: BLE001 - the worker must keep streaming whatever the gauges do
            REFRESH_ERRORS.inc()
            if not self._failing:
                log.warning("sentiment gauges not refreshed (%s: %s); keeping the last values", type(exc).__name__,
                            exc)
            self._failing = True
        else:
            if self._failing:
                log.info("sentiment gauges refreshed again")
            self._failing = False

    # ------------------------------------------------------------------ prometheus_client Collector API
    def describe(self) -> Iterable[Metric]:
        """Names only, so registering never touches Redis or the snapshot."""
        return self._families(Snapshot(firing_by_severity={}))

    def collect(self) -> Iterable[Metric]:
        return self._families(self.snapshot)

    def _families(self, snap: Snapshot) -> list[Metric]:
        families: list[Metric] = []
        for name, help_text, attribute in WINDOW_METRICS:
            family = GaugeMetricFamily(name, help_text, labels=LABELS)
            for scope, key, window, stats in snap.rows:
                family.add_metric([scope, key, window], float(getattr(stats, attribute)))
            families.append(family)
        watermark = GaugeMetricFamily(
            "bearwatch_sentiment_watermark_timestamp_seconds",
            "Event-time watermark the gauges are read at (max event time minus the allowed lateness).",
        )
        if snap.watermark is not None:
            watermark.add_metric([], snap.watermark.timestamp())
        families.append(watermark)
        families.append(GaugeMetricFamily(
            "bearwatch_sentiment_active_tickers",
            "Tickers with news in the ranking window; only the top N of them by volume are exported.",
            value=snap.active_tickers,
        ))
        families.append(GaugeMetricFamily(
            "bearwatch_sentiment_gauges_refreshed_timestamp_seconds",
            "Unix time of the last successful refresh of the sentiment gauges (stale if far behind).",
            value=snap.refreshed_at,
        ))
        families.append(GaugeMetricFamily(
            "bearwatch_sentiment_gauges_refresh_duration_seconds",
            "Time the last refresh of the sentiment gauges took (Redis reads included).",
            value=snap.refresh_seconds,
        ))
        by_severity = GaugeMetricFamily("bearwatch_alerts_firing", "Alerts firing now, by severity.",
                                        labels=("severity",))
        for severity, count in sorted(snap.firing_by_severity.items()):
            by_severity.add_metric([severity], count)
        families.append(by_severity)
        info = GaugeMetricFamily(
            "bearwatch_alert_firing_info",
            f"1 for each firing alert (at most {MAX_ALERT_SERIES}, most severe first), labelled by rule and key.",
            labels=("rule", "scope", "key", "severity"),
        )
        for alert in snap.firing:
            info.add_metric([alert["rule"], alert["scope"], alert["key"], alert["severity"]], 1)
        families.append(info)
        return families

    def register(self, registry: CollectorRegistry = REGISTRY) -> None:
        """Register with ``registry``, replacing an earlier :class:`SentimentGauges` there (an app built twice)."""
        for existing in list(getattr(registry, "_collector_to_names", {})):
            if isinstance(existing, SentimentGauges):
                registry.unregister(existing)
        registry.register(self)
