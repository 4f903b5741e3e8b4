"""Re-read a partition from its earliest offset when the broker's log went backwards under the worker.

Why: the embedded Tansu stores in memory. Killed and started again, it has the same topics (the producers
recreate them) but empty, numbered from offset 0 again, while the worker still holds offsets of the old
incarnation. Two things then skip the new incarnation's first messages, silently:

* Faust's fetch loop drops every message whose offset is below the last offset it read (``_read_offset``).
  A rejoin resets that, but when the stream buffer is full (the worker is behind: a loaded machine), the fetch
  loop is still handing over a batch of the *old* incarnation after the rejoin and writes its offsets back
  (measured: after a broker SIGKILL with the real model about 2,600 stories behind, 0 of 400 stories written after the
  restart were scored, and the new broker held commits of offset 160 on partitions that had 100 messages).
* The stale acks of that batch are committed to the new broker, so the next rebalance seeks past the end; Tansu
  answers a fetch beyond the end of a log with an empty batch, not OFFSET_OUT_OF_RANGE, so nothing resets it.

Each check compares what the worker holds with the high watermark of the partition's latest fetch response (the
same response that carried the records, so on a log that was not recreated it lies beyond every offset read or
committed): the high watermark fell, the last offset read is beyond it, or the committed offset is beyond it.
(Tansu 0.6's ListOffsets "latest" is no substitute: it answers the base offset of the last batch + 1, measured
21 for a log of 30 records written in batches of 10.) A partition that shows one of these in two checks in a row
is re-read from its earliest offset. That is safe: the windows count each story id once
(``monitor.stages.windows``), and
the detector and outbox are idempotent. On Apache Kafka logs are not recreated; a new leader whose high watermark
lags the old one's for more than a check would cost one re-read, never a loss.

Limit: if the new log outgrows the old offsets before the checks see it (one a second; after minutes of news the
old offsets are in the thousands), offsets alone cannot tell, and what Faust dropped stays dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.stages.worker import metrics

log = logging.getLogger(__name__)

#: How often the worker compares its offsets with the broker's high watermarks.
CHECK_INTERVAL_S = 1.0
#: Ceiling on the broker calls of one re-read (a broker that is down makes them wait; the next check tries again).
CALL_TIMEOUT_S = 30.0


def went_backwards(end: int, previous_end: int | None, read: int | None, committed: int | None) -> list[str]:
    """Why a partition's log is not the one the worker read (empty: it is). ``end`` is the high watermark,
    ``read`` Faust's last read offset (or the next one after a seek: at most ``end``), ``committed`` the next offset
    to read after a commit."""
    reasons = []
    if previous_end is not None and end < previous_end:
        reasons.append(f"high watermark fell from {previous_end} to {end}")
    if read is not None and read > end:
        reasons.append(f"read up to offset {read}, log ends at {end}")
    if committed is not None and committed > end:
        reasons.append(f"committed offset {committed}, log ends at {end}")
    return reasons


@dataclass
class LogResetGuard:
    """Checks the Faust consumer's partitions against their high watermarks (:meth:`check`, from a timer)."""

    ends: dict[Any, int] = field(default_factory=dict)  # the high watermark last seen per partition
    suspect: dict[Any, list[str]] = field(default_factory=dict)  # partitions that looked recreated last check

    async def check(self, consumer: Any) -> dict[Any, list[str]]:
        """Re-seek every assigned partition whose log went backwards in this check and the last; returns them."""
        found: dict[Any, list[str]] = {}
        for tp in sorted(consumer.assignment()):
            # The worker's offsets first, the high watermark after: it can only have risen since, unless the log
            # was recreated.
            read = consumer._read_offset.get(tp)  # noqa: SLF001 - Faust has no public getter
            committed = consumer._committed_offset.get(tp)  # noqa: SLF001
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - taken away by a rebalance just now: the next check sees it
                continue
            if end is None:  # nothing fetched from this partition yet
                continue
            reasons = went_backwards(end, self.ends.get(tp), read, committed)
            if reasons:
                found[tp] = reasons  # the highest high watermark is kept until the re-read: a fall stays visible
            else:
                self.ends[tp] = end
        stale = {tp: why for tp, why in found.items() if tp in self.suspect}
        self.suspect = {tp: why for tp, why in found.items() if tp not in stale}
        if stale:
            await self._reread(consumer, stale)
        return stale

    async def _reread(self, consumer: Any, stale: dict[Any, list[str]]) -> None:
        try:
            earliest = await asyncio.wait_for(consumer.earliest_offsets(*stale), CALL_TIMEOUT_S)
            # Forget what Faust holds for the old log: its acks would commit offsets of the old incarnation.
            for tp in stale:
                for book in (consumer._acked, consumer._acked_index, consumer._gap,  # noqa: SLF001
                             consumer._committed_offset):  # noqa: SLF001
                    book.pop(tp, None)
            # seek_wait runs on the consumer's thread and drops Faust's read offset for offset 0.
            await asyncio.wait_for(consumer.seek_wait({tp: int(earliest.get(tp) or 0) for tp in stale}),
                                   CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - e.g. a rebalance took the partition away: checked again
            log.warning("the broker's log went backwards under the worker, and re-reading %s failed (%r); "
                        "trying again in %.0f s", _names(stale), exc, CHECK_INTERVAL_S)
            return
        for tp in stale:
            self.ends.pop(tp, None)
            metrics.LOG_RESETS.labels(tp.topic).inc()
        details = "; ".join(f"{tp.topic}[{tp.partition}]: {', '.join(why)}" for tp, why in stale.items())
        log.warning("the broker's log went backwards (a memory-storage broker restarted?): re-reading %d "
                    "partition(s) from their earliest offset (%s)", len(stale), details)


def _names(stale: Mapping[Any, object]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in stale)
