"""A :class:`WindowStore` whose multi-window read slides over the finest buckets: same numbers, far fewer reads.

The detector asks for one window per key per bucket boundary; :meth:`WindowStore.windows` tiles each window
separately (a 1 h window at a minute boundary is ~60 minute hashes), which over months of event time is tens of
millions of reads. Here the requests of one (scope, key, span) are served by reading every finest bucket of
their combined range once and taking differences of prefix sums. Bucket fields are integers and every story is
added to every level alike (``apply.lua``), so the sums, and therefore every ``WindowStats``, are identical to
the tiled read; ``test_backtest_sliding.py`` holds the two against each other. Reads with samples, and groups
where tiling is cheaper (the detector's hour-aligned baseline windows), go to the parent class unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from itertools import accumulate

from monitor.windows import WindowStats, WindowStore
from monitor.windows.layout import SCOPES
from monitor.windows.spans import floor_to, from_ms, parse_span, span_seconds, to_ms
from monitor.windows.stats import FIELDS, sum_buckets
from monitor.windows.store import WindowRequest

_ZERO = dict.fromkeys(FIELDS, 0)


def cover_size(start: int, end: int, levels: tuple[int, ...]) -> int:
    """``len(cover(start, end, levels))`` without building the list."""
    if start >= end:
        return 0
    size = levels[-1]
    if len(levels) == 1:
        return (end - start) // size
    first = -(-start // size) * size
    last = floor_to(end, size)
    if first >= last:
        return cover_size(start, end, levels[:-1])
    return cover_size(start, first, levels[:-1]) + (last - first) // size + cover_size(last, end, levels[:-1])


class SlidingWindowStore(WindowStore):
    """Drop-in for the detector in the backtest (``Detector(redis, SlidingWindowStore(...), rules, ns)``)."""

    async def windows(self, requests: Sequence[WindowRequest], *, samples: bool = False) -> list[WindowStats]:
        if samples or len(requests) < 2:
            return await super().windows(requests, samples=samples)
        step = self.bucket_seconds
        groups: dict[tuple[str, str, int], list[tuple[int, int]]] = defaultdict(list)
        for index, (scope, key, span, at) in enumerate(requests):
            if scope not in SCOPES:
                raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
            length = span_seconds(parse_span(span), step)
            groups[(scope, key, length)].append((index, floor_to(to_ms(at) // 1000, step)))
        results: list[WindowStats | None] = [None] * len(requests)
        tiled: list[int] = []
        scans: list[tuple[tuple[str, str, int], int, int, list[tuple[int, int]]]] = []
        for group, items in groups.items():
            length = group[2]
            low = min(end for _, end in items) - length
            high = max(end for _, end in items)
            tiled_reads = sum(cover_size(end - length, end, self.levels) for _, end in items)
            if (high - low) // step < tiled_reads:
                scans.append((group, low, high, items))
            else:
                tiled.extend(index for index, _ in items)
        if scans:
            await self._slide(scans, results)
        if tiled:
            for index, stats in zip(tiled, await super().windows([requests[i] for i in tiled]), strict=True):
                results[index] = stats
        return [stats for stats in results if stats is not None]

    async def _slide(self, scans: list[tuple[tuple[str, str, int], int, int, list[tuple[int, int]]]],
                     results: list[WindowStats | None]) -> None:
        step = self.bucket_seconds
        pipe = self.redis.pipeline(transaction=False)
        for (scope, key, _), low, high, _ in scans:
            for start in range(low, high, step):
                pipe.hgetall(self.keys.bucket(step, scope, key, start))
        replies = await pipe.execute()
        offset = 0
        for (scope, key, length), low, high, items in scans:
            count = (high - low) // step
            hashes = replies[offset:offset + count]
            offset += count
            rows = [sum_buckets([h]) if h else _ZERO for h in hashes]
            prefix = {name: [0, *accumulate(row[name] for row in rows)] for name in FIELDS}
            span = timedelta(seconds=length)
            for index, end in items:
                right, left = (end - low) // step, (end - length - low) // step
                sums = {name: values[right] - values[left] for name, values in prefix.items()}
                results[index] = WindowStats.from_sums(scope, key, span, from_ms(end * 1000), sums)
