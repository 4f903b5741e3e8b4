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
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from monitor.schemas import ScoredStory
from monitor.windows import ApplyResult, WindowStats, WindowStore
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


@dataclass
class _Rows:
    """Finest-bucket sums of one scope key from bucket start ``low`` on, one dict per bucket."""

    low: int
    rows: list[dict[str, int]]


Group = tuple[str, str, int]


class SlidingWindowStore(WindowStore):
    """Drop-in for the detector in the backtest (``Detector(redis, SlidingWindowStore(...), rules, ns)``).

    Buckets that can no longer change are also kept between calls: the backtest applies stories in event order
    and calls :meth:`declare_final` with the next story's time before each segment, so every bucket that ends by
    then is final (a late story, which the backtest never produces, clears the memory to stay correct).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memory: dict[tuple[str, str], _Rows] = {}
        self._final_end = 0
        self._keep = 3600

    def declare_final(self, before: datetime) -> None:
        """No story earlier than ``before`` will be applied any more."""
        self._final_end = max(self._final_end, floor_to(to_ms(before) // 1000, self.bucket_seconds))
        horizon = self._final_end - self._keep
        stale = [k for k, held in self._memory.items() if held.low + len(held.rows) * self.bucket_seconds < horizon]
        for key in stale:
            del self._memory[key]

    async def apply(self, stories: Sequence[ScoredStory]) -> ApplyResult:
        result = await super().apply(stories)
        if result.late:
            self._memory.clear()
        return result

    async def windows(self, requests: Sequence[WindowRequest], *, samples: bool = False) -> list[WindowStats]:
        if samples or len(requests) < 2:
            return await super().windows(requests, samples=samples)
        step = self.bucket_seconds
        groups: dict[Group, list[tuple[int, int]]] = defaultdict(list)
        for index, (scope, key, span, at) in enumerate(requests):
            if scope not in SCOPES:
                raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
            length = span_seconds(parse_span(span), step)
            groups[(scope, key, length)].append((index, floor_to(to_ms(at) // 1000, step)))
        results: list[WindowStats | None] = [None] * len(requests)
        tiled: list[int] = []
        scans: list[tuple[Group, int, int, list[tuple[int, int]]]] = []
        for group, items in groups.items():
            length = group[2]
            low = min(end for _, end in items) - length
            high = max(end for _, end in items)
            tiled_reads = sum(cover_size(end - length, end, self.levels) for _, end in items)
            if self._to_read(group, low, high) < tiled_reads:
                scans.append((group, low, high, items))
                self._keep = max(self._keep, length + 3600)
            else:
                tiled.extend(index for index, _ in items)
        if scans:
            await self._slide(scans, results)
        if tiled:
            for index, stats in zip(tiled, await super().windows([requests[i] for i in tiled]), strict=True):
                results[index] = stats
        return [stats for stats in results if stats is not None]

    def _held(self, group: Group, low: int) -> tuple[int, list[dict[str, int]]]:
        """Remembered rows usable for a read from ``low``: ``(first bucket not held, rows from low)``."""
        held = self._memory.get(group[:2])
        step = self.bucket_seconds
        if held is None or held.low > low or held.low + len(held.rows) * step <= low:
            return low, []
        rows = held.rows[(low - held.low) // step:]
        return low + len(rows) * step, rows

    def _to_read(self, group: Group, low: int, high: int) -> int:
        return max(0, high - self._held(group, low)[0]) // self.bucket_seconds

    async def _slide(self, scans: list[tuple[Group, int, int, list[tuple[int, int]]]],
                     results: list[WindowStats | None]) -> None:
        plans = [self._held(group, low) for group, low, _, _ in scans]
        fetched = await self._read_rows([(group[:2], first, high) for (group, _, high, _), (first, _) in
                                         zip(scans, plans, strict=True)])
        step = self.bucket_seconds
        for ((scope, key, length), low, high, items), (_, held), fresh in zip(scans, plans, fetched, strict=True):
            rows = (held + fresh)[:(high - low) // step]
            self._remember((scope, key), low, rows)
            prefix = {name: [0, *accumulate(row[name] for row in rows)] for name in FIELDS}
            span = timedelta(seconds=length)
            for index, end in items:
                right, left = (end - low) // step, (end - length - low) // step
                sums = {name: values[right] - values[left] for name, values in prefix.items()}
                results[index] = WindowStats.from_sums(scope, key, span, from_ms(end * 1000), sums)

    async def _read_rows(self, regions: list[tuple[tuple[str, str], int, int]]) -> list[list[dict[str, int]]]:
        """Finest buckets of each ``(scope key, first, high)`` region; buckets inside an hour that holds no story
        are not read (every story is counted at every level, so an absent hour bucket means empty minutes)."""
        step = self.bucket_seconds
        coarse = self.levels[1] if len(self.levels) > 1 else None
        occupied: set[tuple[str, str, int]] = set()
        if coarse is not None:
            blocks = [(scope, key, hour) for (scope, key), first, high in regions
                      for hour in range(floor_to(first, coarse), high, coarse)]
            async with self.redis.pipeline(transaction=False) as pipe:
                for scope, key, hour in blocks:
                    pipe.exists(self.keys.bucket(coarse, scope, key, hour))
                flags = await pipe.execute() if blocks else []
            occupied = {block for block, flag in zip(blocks, flags, strict=True) if flag}
        wanted = [[coarse is None or (scope, key, floor_to(start, coarse)) in occupied
                   for start in range(first, high, step)] for (scope, key), first, high in regions]
        async with self.redis.pipeline(transaction=False) as pipe:
            for ((scope, key), first, high), wants in zip(regions, wanted, strict=True):
                for start, want in zip(range(first, high, step), wants, strict=True):
                    if want:
                        pipe.hgetall(self.keys.bucket(step, scope, key, start))
            replies = iter(await pipe.execute())
        return [[(sum_buckets([h]) if (h := next(replies)) else _ZERO) if want else _ZERO for want in wants]
                for wants in wanted]

    def _remember(self, key: tuple[str, str], low: int, rows: list[dict[str, int]]) -> None:
        step = self.bucket_seconds
        final = rows[:max(0, (self._final_end - low) // step)]
        held = self._memory.get(key)
        if held is not None and held.low < low <= held.low + len(held.rows) * step:
            final = held.rows[:(low - held.low) // step] + final
            low = held.low
        floor = self._final_end - self._keep
        if low < floor:
            final, low = final[(floor - low) // step:], floor
        if final:
            self._memory[key] = _Rows(low, final)
