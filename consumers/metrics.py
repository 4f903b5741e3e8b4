"""Prometheus metrics of the ingest stage, all in the default registry and served on ``/metrics``.

They answer the operator's questions about the consumers: is each feed alive (health, last success), what does
polling cost (polls, 304s, bytes, latency), what goes wrong (errors by kind, bad entries by reason), and what
comes out (stories produced, exact duplicates dropped, near-duplicates seen, broker back-pressure).
Labels stay low-cardinality: ``feed`` is a registry name, never a URL or an entry.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter(
    "bearwatch_ingest_polls_total", "Feed polls by outcome (ok, not_modified, error).", ["feed", "outcome"]
)
NOT_MODIFIED = Counter(
    "bearwatch_ingest_not_modified_total", "Polls answered 304 Not Modified (no body downloaded).", ["feed"]
)
BYTES = Counter(
    "bearwatch_ingest_downloaded_bytes_total", "Response body bytes received on the wire.", ["feed"]
)
ERRORS = Counter(
    "bearwatch_ingest_errors_total",
    "Failed polls by kind (timeout, connect, http_4xx, http_5xx, rate_limited, too_large, redirects, "
    "not_a_feed, parse, ...).",
    ["feed", "kind"],
)
BAD_ENTRIES = Counter(
    "bearwatch_ingest_bad_entries_total", "Feed entries that could not be turned into a story.", ["feed", "reason"]
)
FEED_PROBLEMS = Counter(
    "bearwatch_ingest_feed_problems_total",
    "Feeds that were read only partly (ill-formed XML, bad encoding, ...): readable entries still go out.",
    ["feed", "kind"],
)
STORIES = Counter("bearwatch_ingest_stories_produced_total", "Stories acknowledged by the broker.", ["feed"])
DUPLICATES = Counter(
    "bearwatch_ingest_duplicates_dropped_total", "Entries dropped because their story id was already seen.", ["feed"]
)
NEAR_DUPLICATES = Counter(
    "bearwatch_ingest_near_duplicates_total",
    "Stories that joined an existing near-duplicate cluster (produced with lower novelty).",
    ["feed"],
)
FEED_HEALTHY = Gauge("bearwatch_ingest_feed_healthy", "1 while a feed polls fine, 0 once marked unhealthy.", ["feed"])
LAST_SUCCESS = Gauge(
    "bearwatch_ingest_feed_last_success_timestamp_seconds", "Unix time of the feed's last good poll.", ["feed"]
)
POLL_SECONDS = Histogram(
    "bearwatch_ingest_poll_duration_seconds",
    "Time of one poll: politeness wait excluded, fetch + parse + hand-off to the producer included.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PRODUCE_QUEUE = Gauge("bearwatch_ingest_produce_queue_stories", "Stories waiting for the broker's acknowledgement.")
PRODUCE_RETRIES = Counter(
    "bearwatch_ingest_produce_retries_total", "Batches re-sent because the broker did not acknowledge them."
)
