"""Shorten the Kafka fetch long-poll of Faust's consumer from a hard-coded 1.5 s to ``FETCH_MAX_WAIT_MS``.

Why: Faust's aiokafka driver builds its consumer with ``fetch_max_wait_ms=1500`` and offers no setting for it. A
broker may hold a fetch that long when it has nothing new; Apache Kafka answers as soon as a record arrives, but
the embedded Tansu answers only when the wait is over (measured: a record produced into an idle topic reached an
aiokafka consumer after 0.25-0.6 s with a 1.5 s wait and after 6-50 ms with 100 ms). The worker reads two topics
in a row (``news.raw``, then ``news.scored``), so the long wait cost up to 3 s of produce→decision latency, about
1.5 s on average. With 100 ms an idle worker sends ten small fetches a second to each broker it reads from;
with a broker that answers early, nothing changes at all.

The value is set on the consumer object after Faust creates it and before Faust starts it (aiokafka reads it in
``start()``). Applied once per process, for every Faust app in it.
"""

from __future__ import annotations

from typing import Any

FETCH_MAX_WAIT_MS = 100


def shorten_fetch_wait(max_wait_ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Make every Faust worker consumer created from now on long-poll at most ``max_wait_ms``."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    original = AIOKafkaConsumerThread._create_worker_consumer  # noqa: SLF001 - no public hook for this setting
    if getattr(original, "bearwatch_fetch_wait", None) == max_wait_ms:
        return
    unwrapped = getattr(original, "__wrapped__", original)

    def create(self: Any, transport: Any) -> Any:
        consumer = unwrapped(self, transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # a newer aiokafka: fail loudly, not silently slow
            raise RuntimeError("aiokafka's consumer no longer has _fetch_max_wait_ms: update "
                               "monitor/stages/worker/fetch_wait.py for this aiokafka version")
        consumer._fetch_max_wait_ms = max_wait_ms  # noqa: SLF001 - read by AIOKafkaConsumer.start()
        return consumer

    create.__wrapped__ = unwrapped  # type: ignore[attr-defined]
    create.bearwatch_fetch_wait = max_wait_ms  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]  # noqa: SLF001
