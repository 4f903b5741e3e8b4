"""Prometheus metrics of the window store (``bearwatch_windows_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

APPLIED = Counter("bearwatch_windows_applied_stories_total", "Stories counted into the event-time windows.")
DUPLICATES = Counter(
    "bearwatch_windows_duplicate_stories_total",
    "Stories seen again (redelivery, replay, second worker) and not counted twice.",
)
LATE = Counter(
    "bearwatch_windows_late_stories_total",
    "Stories older than the watermark (max event time minus allowed lateness); still stored.",
)
NON_ENGLISH = Counter(
    "bearwatch_windows_non_english_stories_total",
    "Stories not counted in the (English) sentiment windows because their detected language is not English.",
)
INVALID = Counter(
    "bearwatch_windows_invalid_stories_total",
    "Stories skipped by the window store because a field could not be used, by reason.",
    ["reason"],
)
APPLY_SECONDS = Histogram(
    "bearwatch_windows_apply_seconds",
    "Time to apply one batch of stories to Redis.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
READ_SECONDS = Histogram(
    "bearwatch_windows_read_seconds",
    "Time to read window statistics, by operation.",
    ["op"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
