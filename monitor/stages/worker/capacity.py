"""The live path's compute shape: how many threads torch gets, and how many stories one model call sees.

Why a thread budget: the worker's event loop decodes, encodes, talks to Kafka and Redis and answers heartbeats
while torch scores on its own thread. When torch takes every core (its default), each micro-batch makes the
loop and torch's own threads fight for the same cores; torch's threads then wait on the one that was preempted,
and the loop stalls (Faust's "Timer livelock"). Leaving the loop one core costs one core of model time on a
big machine and buys steady throughput and a responsive loop on a small one: on the shared 2-core machine the bare
engine scored 90 texts/s with torch's default two threads and 297 texts/s with one (calls of 32).

Why a read batch (``consume_batch``) several forward passes (``model_batch``) long: the score agent queues all of a
read's forward passes on the model at once and publishes each as it returns (the model scores the next chunk
meanwhile), but between two reads the model waits: for the read's last publish, the offsets' ack and the next
read. A longer read pays that wait less often: on the shared 2-core machine, with the model in its own process,
the pipeline reached 0.69 of the bare engine with reads of 4 forward passes and 0.75-0.89 with 8
(bench/pipeline_throughput.py, docs/latency.md). When news is slow a read is whatever arrived within
``batch_max_wait_s``, so the length costs no latency then. Faust's read-ahead (``stream_buffer_maxsize``) is
bounded to a few reads, so a backlog stays in Kafka, where the consumer lag shows it, instead of in the worker's
memory.
"""

from __future__ import annotations

import os

from monitor.ground.settings import Settings

#: Forward passes per model call when a backlog is waiting and ``consume_batch`` is 0 (automatic).
READ_BATCHES = 8
#: Read batches Faust may buffer ahead (its ``stream_buffer_maxsize``) while one is being scored.
READ_AHEAD_BATCHES = 2
#: Upper bound of the aggregate agent's wait for more scored stories: its work per batch is a few Redis calls,
#: so a short wait keeps produce→decision latency low without costing throughput.
AGGREGATE_MAX_WAIT_S = 0.05


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def torch_threads(settings: Settings) -> int:
    """``cpu_threads`` when set (> 0); else every usable core but one for the event loop, at least one."""
    if settings.cpu_threads > 0:
        return int(settings.cpu_threads)
    return max(1, usable_cores() - 1)


def read_batch(settings: Settings) -> int:
    """Most stories the score agent takes at once: ``consume_batch``, or when that is 0, ``READ_BATCHES`` forward
    passes of ``model_batch``."""
    return settings.consume_batch or settings.model_batch * READ_BATCHES


def read_ahead(settings: Settings) -> int:
    """Messages Faust may buffer ahead of the agents (its ``stream_buffer_maxsize``): ``READ_AHEAD_BATCHES`` reads."""
    return read_batch(settings) * READ_AHEAD_BATCHES


def engine_settings(settings: Settings) -> Settings:
    """``settings`` with the thread budget filled in: what the worker, and the bench's bare engine, load with."""
    return settings.model_copy(update={"cpu_threads": torch_threads(settings)})
