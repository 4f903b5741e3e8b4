"""The built-in status page: ``/`` (one self-contained HTML file) and its JSON API ``/api/status``.

It is what a new user sees after ``make run``, before any Grafana exists: the market's negative share over the
last hours, the most negative tickers and topics, firing alerts and the latest scored headlines. The HTML has no
external asset at all (no CDN, works offline); its script fetches ``/api/status`` every few seconds and draws
the chart as inline SVG. Headlines come from the outside world, so the page inserts them only as text.

The JSON is cached for a couple of seconds: many open browser tabs cost one set of Redis reads, not one each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from consumers.health import HealthStore
from monitor.ground.redact import redact_text
from monitor.shell.web.alert_source import FiringSource, no_alerts
from monitor.stages.windows import WindowStats, WindowStore

SERIES_SPAN = "6h"
SERIES_STEP = "10m"
TOP_LIMIT = 10
TOPICS_LIMIT = 20
CANDIDATES = 50  # read this many by negative share, then order them finer (see most_negative)
RECENT_LIMIT = 20
MIN_TICKER_VOLUME = 3  # one stray headline cannot top the list


def _summary(stats: WindowStats) -> dict[str, Any]:
    return {
        "count": stats.count, "negative": stats.negative, "neutral": stats.neutral, "positive": stats.positive,
        "negative_share": round(stats.negative_share, 4), "mean_score": round(stats.mean_score, 4),
        "novelty_volume": round(stats.novelty_volume, 3),
    }


def most_negative(rows: list[tuple[str, WindowStats]], limit: int) -> list[tuple[str, WindowStats]]:
    """By negative share, then by the more negative mean score: among keys that are all negative, the one whose
    stories are the most strongly negative comes first (a plain share ranking would fall back on the name)."""
    return sorted(rows, key=lambda row: (-row[1].negative_share, row[1].mean_score, row[0]))[:limit]


def _ranked(rows: list[tuple[str, WindowStats]]) -> list[dict[str, Any]]:
    out = []
    for key, stats in rows:
        worst = stats.samples[0] if stats.samples else None
        out.append({"key": key, **_summary(stats),
                    "worst": {"title": worst.title, "url": worst.url, "score": worst.score} if worst else None})
    return out


class StatusPage:
    """Builds the status JSON from the window store and the firing-alerts source."""

    def __init__(
        self, store: WindowStore, firing: FiringSource = no_alerts, *, cache_s: float = 2.0,
        refresh_s: float = 5.0, pipeline: Callable[[], dict[str, Any]] | None = None,
        stale_after_s: float = 1800.0,
    ) -> None:
        self.store = store
        self.stale_after_s = stale_after_s  # no feed succeeded this long: the page says so in a banner
        self.firing = firing
        self.pipeline = pipeline  # the worker's "keeping up?" numbers (monitor.stages.worker.pace); None: not shown
        self.cache_s = cache_s
        self.refresh_s = refresh_s
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    @staticmethod
    def html() -> bytes:
        """The page itself (read from the package, so it ships in the wheel)."""
        return resources.files("monitor.shell.web").joinpath("status.html").read_bytes()

    async def status(self) -> dict[str, Any]:
        """The JSON the page polls; at most one Redis read-out per ``cache_s`` however many tabs are open."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            body = await self._build()
            self._cached = (time.monotonic(), body)
            return body

    async def _build(self) -> dict[str, Any]:
        store = self.store
        watermark = await store.watermark()
        at = watermark or datetime.now(UTC)
        market = await store.windows([("market", "all", "15m", at), ("market", "all", "1h", at)])
        series = await store.series("market", "all", SERIES_SPAN, SERIES_STEP, at=at)
        tickers = await store.top("ticker", "1h", by="negative_share", min_volume=MIN_TICKER_VOLUME,
                                  limit=CANDIDATES, at=at)
        topics = await store.top("topic", "1h", by="negative_share", min_volume=1, limit=CANDIDATES, at=at)
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "watermark": watermark.isoformat() if watermark else None,
            "refresh_s": self.refresh_s,
            "market": {"15m": _summary(market[0]), "1h": _summary(market[1])},
            "series": {
                "span": SERIES_SPAN, "step": SERIES_STEP,
                "points": [{"at": end.isoformat(), **_summary(stats)} for end, stats in series],
            },
            "tickers": _ranked(most_negative(tickers, TOP_LIMIT)),
            "topics": _ranked(most_negative(topics, TOPICS_LIMIT)),
            "alerts": await self.firing(),
            "recent": await store.recent(RECENT_LIMIT),
            "pipeline": self.pipeline() if self.pipeline is not None else None,
            "feeds_problem": await self._feeds_problem(),
        }

    async def _feeds_problem(self) -> str | None:
        """One line when the consumers are running but no feed has succeeded for ``stale_after_s`` (offline)."""
        summary = await HealthStore(self.store.redis, self.store.namespace).load_summary()
        if summary is None:
            return None
        reason = summary.stale_reason(time.time(), self.stale_after_s)
        return redact_text(reason) if reason else None
