"""Prometheus metrics of the alerts stage (``bearwatch_alerts_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVALUATIONS = Counter(
    "bearwatch_alerts_evaluations_total",
    "Rule evaluations (one key at one bucket boundary), by rule.",
    ["rule"],
)
TRANSITIONS = Counter(
    "bearwatch_alerts_transitions_total",
    "Lifecycle outcomes of evaluations (none, pending, fire, repeat, resolve, stale...), by rule.",
    ["rule", "action"],
)
RECOVERED = Counter(
    "bearwatch_alerts_handoff_recovered_total",
    "Alerts decided but never handed on to Kafka (a worker died in between), rebuilt and emitted again, by rule.",
    ["rule"],
)
ENQUEUED = Counter(
    "bearwatch_alerts_notifications_enqueued_total",
    "Alert notifications put into the outbox, by result.",
    ["result"],
)
ATTEMPTS = Counter(
    "bearwatch_alerts_delivery_attempts_total",
    "HTTP delivery attempts, by channel and outcome.",
    ["channel", "outcome"],
)
DELIVERED = Counter(
    "bearwatch_alerts_notifications_delivered_total",
    "Notifications delivered (one per group), by channel.",
    ["channel"],
)
DEAD = Counter(
    "bearwatch_alerts_dead_letters_total",
    "Notifications moved to the dead-letter list, by channel.",
    ["channel"],
)
OUTBOX = Gauge(
    "bearwatch_alerts_outbox_entries", "Entries waiting in a channel's outbox stream.", ["channel"]
)
DELIVERY_SECONDS = Histogram(
    "bearwatch_alerts_delivery_seconds",
    "Time of one delivery attempt, by channel.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BAD_ENTRIES = Counter(
    "bearwatch_alerts_bad_outbox_entries_total",
    "Outbox entries that could not be read (dead-lettered).",
    ["channel"],
)
