"""Columnar bucket data of one scope key: what the surprise evaluator reads, whoever filled it.

A :class:`KeySeries` holds two sparse, sorted tables of integer bucket sums: minute buckets (the window level,
``bucket_seconds``) and hour buckets (the history level). They are the same integers the window store keeps in
Redis (``apply.lua`` adds every story to every level alike), so the backtest, which builds them from its scored
stories in memory (:func:`series_from_stories`), and the live detector, which reads them from Redis
(:mod:`alerts.reader`), hand the evaluator identical arrays.

Contract: the hour table is complete over the history the evaluator asks for, and the minute table is complete
inside every hour that contains a boundary (or a window start) it asks about. ``total(lo, hi)`` then sums any
bucket-aligned range exactly: whole hours from the hour table, the part of an hour from the minute table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.ground.contracts import ScoredStory
from monitor.stages.windows.layout import MICRO
from monitor.stages.windows.spans import HOUR, to_ms

# Column order of every table: count, negatives, score sum, novelty, novelty of negatives, novelty x score (the
# last three in millionths), as the Redis bucket hash fields n, neg, ss, nv, nvn, nvs.
FIELDS = ("n", "neg", "ss", "nv", "nvn", "nvs")
N, NEG, SS, NV, NVN, NVS = range(len(FIELDS))
Int = NDArray[np.int64]


class Table:
    """Sparse bucket sums: ``starts`` (sorted, epoch s) and ``values`` (one row of :data:`FIELDS` each)."""

    def __init__(self, starts: Int, values: Int) -> None:
        self.starts = np.asarray(starts, dtype=np.int64)
        self.values = np.asarray(values, dtype=np.int64).reshape(len(self.starts), len(FIELDS))
        self.prefix = np.vstack([np.zeros((1, len(FIELDS)), dtype=np.int64), np.cumsum(self.values, axis=0)])

    @classmethod
    def empty(cls) -> Table:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, len(FIELDS)), dtype=np.int64))

    @classmethod
    def from_rows(cls, rows: Mapping[int, Sequence[int]]) -> Table:
        if not rows:
            return cls.empty()
        starts = np.array(sorted(rows), dtype=np.int64)
        return cls(starts, np.array([rows[s] for s in starts.tolist()], dtype=np.int64))

    def before(self, moments: Int) -> Int:
        """Sums of every bucket starting before each moment (rows of :data:`FIELDS`)."""
        return self.prefix[np.searchsorted(self.starts, moments, side="left")]

    def total(self, lo: Int, hi: Int) -> Int:
        """Sums of the buckets starting in ``[lo, hi)``, elementwise."""
        return self.before(hi) - self.before(lo)

    def count_in(self, lo: Int, hi: Int) -> Int:
        """How many buckets with data start in ``[lo, hi)``."""
        return np.searchsorted(self.starts, hi, side="left") - np.searchsorted(self.starts, lo, side="left")

    def __len__(self) -> int:
        return len(self.starts)


@dataclass
class KeySeries:
    """Minute and hour bucket sums of one ``(scope, key)``; see the module docstring for what must be filled."""

    scope: str
    key: str
    step: int
    minutes: Table
    hours: Table

    def total(self, lo: Int, hi: Int) -> Int:
        """Exact sums over ``[lo, hi)`` (both bucket-aligned), elementwise; rows of :data:`FIELDS`."""
        return self._before(hi) - self._before(lo)

    def _before(self, t: Int) -> Int:
        hour = (t // HOUR) * HOUR
        return self.hours.before(hour) + self.minutes.total(hour, t)


def hours_of(minutes: Table) -> Table:
    """Hour sums of a complete minute table."""
    if not len(minutes):
        return Table.empty()
    hours = (minutes.starts // HOUR) * HOUR
    firsts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    return Table(hours[firsts], np.add.reduceat(minutes.values, firsts, axis=0))


def story_row(story: ScoredStory) -> tuple[int, ...]:
    """One story's contribution to its buckets, rounded as ``monitor.stages.windows.writer.encode_story`` does."""
    score, novelty = story.sentiment.score, story.novelty
    negative = story.sentiment.label == "negative"
    nv = round(novelty * MICRO)
    return (1, int(negative), round(score * MICRO), nv, nv if negative else 0, round(novelty * score * MICRO))


def story_rows(stories: Sequence[ScoredStory]) -> NDArray[np.int64]:
    """:func:`story_row` of many stories at once (numpy rounds half to even like Python's ``round``)."""
    score = np.array([story.sentiment.score for story in stories], dtype=np.float64)
    novelty = np.array([story.novelty for story in stories], dtype=np.float64)
    negative = np.array([story.sentiment.label == "negative" for story in stories], dtype=bool)
    nv = np.rint(novelty * MICRO).astype(np.int64)
    return np.stack([np.ones(len(stories), dtype=np.int64), negative.astype(np.int64),
                     np.rint(score * MICRO).astype(np.int64), nv, np.where(negative, nv, 0),
                     np.rint(novelty * score * MICRO).astype(np.int64)], axis=1)


def series_from_stories(
    stories: Sequence[ScoredStory], keys_of: object, step: int
) -> dict[tuple[str, str], KeySeries]:
    """Every scope key's series from scored stories (the backtest's in-memory windows).

    ``keys_of(story)`` lists the ``(scope, key)`` pairs a story counts towards (the window writer's
    ``scope_keys``), so the backtest counts exactly what the live windows count. Grouped with numpy: one sort of
    (key, bucket) pairs and one ``reduceat``, so a 40,000-row file takes a fraction of a second."""
    key_ids: dict[tuple[str, str], int] = {}
    owners: list[int] = []
    members: list[int] = []
    for index, story in enumerate(stories):
        for pair in keys_of(story):  # type: ignore[operator]
            owners.append(key_ids.setdefault(pair, len(key_ids)))
            members.append(index)
    if not owners:
        return {}
    rows = story_rows(stories)
    buckets = np.array([to_ms(story.published_at) // 1000 for story in stories], dtype=np.int64) // step * step
    owner = np.array(owners, dtype=np.int64)
    member = np.array(members, dtype=np.int64)
    order = np.lexsort((buckets[member], owner))
    owner, member = owner[order], member[order]
    bucket = buckets[member]
    firsts = np.flatnonzero(np.r_[True, (owner[1:] != owner[:-1]) | (bucket[1:] != bucket[:-1])])
    sums = np.add.reduceat(rows[member], firsts, axis=0)
    cell_owner, cell_bucket = owner[firsts], bucket[firsts]
    bounds = np.searchsorted(cell_owner, np.arange(len(key_ids) + 1))
    out = {}
    for (scope, key), i in key_ids.items():
        lo, hi = bounds[i], bounds[i + 1]
        minutes = Table(cell_bucket[lo:hi], sums[lo:hi])
        out[(scope, key)] = KeySeries(scope, key, step, minutes, hours_of(minutes))
    return out


def share(values: NDArray[np.int64]) -> NDArray[np.float64]:
    """Novelty-weighted negative share of rows (0 where there is no volume)."""
    nv = values[..., NV].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nv > 0, values[..., NVN] / np.where(nv > 0, nv, 1.0), 0.0)
