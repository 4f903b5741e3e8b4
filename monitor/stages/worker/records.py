"""What the agents read of a Faust event: a :class:`~monitor.stages.worker.scoring.RawRecord`.

Why its own module: every agent turns events into records the same way (the dead letter names topic, partition and
offset; the Kafka timestamp is the story's produce time for the latency numbers).
"""

from __future__ import annotations

from faust.types import EventT

from monitor.stages.worker.scoring import RawRecord


def record_of(event: EventT) -> RawRecord:
    """The record of ``event``: where it came from, its key and value, and its Kafka timestamp (None: unknown)."""
    message = event.message
    return RawRecord(message.topic, message.partition, message.offset, message.key, message.value,
                     message.timestamp or None)
