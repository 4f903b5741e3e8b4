"""Prometheus metrics of the stream worker (served on the worker's ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("bearwatch_worker_messages_in_total", "Messages read, per agent", ["agent"])
MESSAGES_OUT = Counter("bearwatch_worker_messages_out_total", "Messages produced, per agent", ["agent"])
DEAD_LETTERS = Counter("bearwatch_worker_dead_letters_total", "Messages sent to the dead-letter topic", ["reason"])
BATCH_SIZE = Histogram("bearwatch_worker_batch_size", "Stories per micro-batch", ["agent"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
MODEL_LATENCY = Histogram("bearwatch_model_batch_latency_seconds", "Model time per micro-batch",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
MODEL_ERRORS = Counter("bearwatch_model_errors_total", "Model calls that raised (before retry/bisect)")
TRUNCATED = Counter("bearwatch_worker_truncated_texts_total", "Stories whose text was cut to max_tokens")
EMPTY_TEXTS = Counter("bearwatch_worker_empty_texts_total", "Stories with no title and no summary")
STORIES_SCORED = Counter("bearwatch_stories_scored_total", "Scored stories by topic and sentiment",
                         ["topic", "sentiment"])
WINDOW_UPDATES = Counter("bearwatch_windows_updates_total", "Window updates by outcome", ["outcome"])
ALERTS_EMITTED = Counter("bearwatch_alerts_emitted_total", "Alert state changes produced", ["status", "severity"])
CONSUMER_LAG = Gauge("bearwatch_kafka_consumer_lag_messages", "Offset lag per topic partition",
                     ["topic", "partition"])
PUBLISH_RETRIES = Counter("bearwatch_worker_publish_retries_total",
                          "Micro-batch outputs sent again after a broker error, by what was sent", ["what"])
REDIS_ERRORS = Counter("bearwatch_worker_redis_errors_total", "Redis calls that failed and were retried")
LOG_RESETS = Counter("bearwatch_worker_log_resets_total",
                     "Partitions re-read from their earliest offset because the broker's log went backwards "
                     "(a memory-storage broker restarted; monitor/stages/worker/log_reset.py)", ["topic"])

#: Produce -> stage latency. The produce time is the Kafka timestamp of the story's ``news.raw`` record; the worker
#: copies it onto the story's ``news.scored`` record (as Kafka Streams does), so the later stages see it too.
PIPELINE_LATENCY = Histogram(
    "bearwatch_pipeline_latency_seconds",
    "Seconds from a story's produce to news.raw until it is scored (in news.scored), counted in the windows "
    "(windowed) and evaluated by the detector with any alert handed on (decided)", ["stage"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20,
             30, 45, 60, 90, 120, 180, 300, 600))
STAGES = ("scored", "windowed", "decided")
for _stage in STAGES:
    PIPELINE_LATENCY.labels(_stage)
SCORING_RATE = Gauge("bearwatch_worker_scoring_rate_stories_per_second",
                     "Stories this worker scored per second over the last minute")
BACKLOG = Gauge("bearwatch_worker_backlog_stories",
                "Stories waiting for this worker: consumer lag of news.raw plus news.scored (its partitions)")
BEHIND = Gauge("bearwatch_worker_behind_seconds",
               "How far behind the news this worker is: 0 when caught up, else the age of the stories it decides now")

# Pre-initialised so dashboards show 0 instead of "No data" before the first alert.
for _status in ("firing", "resolved"):
    for _severity in ("critical", "warning", "info"):
        ALERTS_EMITTED.labels(_status, _severity)
