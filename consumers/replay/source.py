"""Rows of a historical file → normalised, de-duplicated Stories in (published_at, id) order.

The same path as the live consumers: each row's :class:`RawEntry` goes through :func:`normalise_entry` with the
same ticker linker, under an :class:`EntryContext` whose ``fetched_at`` is the row's own event time: a live poll
fetches a story moments after it is published, so nothing is clamped as future-dated and no output depends on
the wall-clock time the replay ran at. Then:

* rows that normalise to the same story id (the Reuters file repeats an article once per ticker) become one story
  with the union of their tickers and the earliest event time: the live consumer would have seen it once;
* optional ``since``/``until`` cut the event-time range before de-duplication, as if the file held only that range;
* stories are sorted by ``(published_at, id)`` and admitted through the run's :class:`Deduplicator` in that order,
  so near-duplicate clusters and novelty are assigned in event order, identically by the Kafka replay and the
  in-process backtest. Ids this namespace already produced come back as ``known`` (a replay run twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from consumers.dedup import Deduplicator
from consumers.language import is_english
from consumers.normalise import EntryContext, EntryError, normalise_entry
from consumers.replay.eventtime import DAY_ONLY
from consumers.replay.readers import ReadOptions, ReplayRow, RowError, estimate_rows, file_format, read_rows
from consumers.tickers import TickerLinker
from monitor.ground.contracts import Story
from monitor.ground.progress import SILENT, Bars

log = logging.getLogger(__name__)
ADMIT_CHUNK = 500
MAX_KEPT_ERRORS = 10_000
LOGGED_ERRORS = 5


@dataclass
class SourceReport:
    """What reading a file gave: counts, rejected rows by reason (the first ones kept with row numbers)."""

    path: Path
    rows: int = 0
    stories: int = 0
    merged: int = 0
    day_only: int = 0
    out_of_range: int = 0
    new: int = 0
    known: int = 0
    near_duplicates: int = 0
    non_english: int = 0  # stories the sentiment windows will not count (detected language not English)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)
    first_event: datetime | None = None
    last_event: datetime | None = None
    seconds: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, error: RowError) -> None:
        self.rejected[error.reason] += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)
        if self.rejected_total <= LOGGED_ERRORS:
            detail = error.detail
            if len(detail) > 200:  # a row can be megabytes long: the log line stays one readable line
                detail = f"{detail[:200]}... ({len(detail):,} chars)"
            log.warning("%s: row %d skipped (%s): %s", self.path.name, error.number, error.reason, detail)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path), "rows": self.rows, "stories": self.stories, "merged_rows": self.merged,
            "day_only_dates": self.day_only, "out_of_range": self.out_of_range, "new": self.new,
            "already_seen": self.known, "near_duplicates": self.near_duplicates, "non_english": self.non_english,
            "rejected": dict(self.rejected), "first_event": self.first_event and self.first_event.isoformat(),
            "last_event": self.last_event and self.last_event.isoformat(), "seconds": round(self.seconds, 3),
        }


@dataclass
class LoadedStories:
    """``stories``: every unique story in (published_at, id) order; ``new``: those not yet seen by this run."""

    stories: list[Story]
    new: list[Story]
    report: SourceReport

    @property
    def known_ids(self) -> set[str]:
        new_ids = {story.id for story in self.new}
        return {story.id for story in self.stories if story.id not in new_ids}


def story_from_row(row: ReplayRow, linker: TickerLinker | None) -> Story:
    """The live normalisation of one row, event time as fetch time; raises ``EntryError``/``ValueError``."""
    context = EntryContext(source=row.source, feed=row.feed, fetched_at=row.published)
    story = normalise_entry(row.entry, context, linker)
    if row.day_only:
        story = story.model_copy(update={"flags": [*story.flags, DAY_ONLY]})
    return story


def read_stories(path: Path, options: ReadOptions, linker: TickerLinker | None, bars: Bars = SILENT,
                 since: datetime | None = None, until: datetime | None = None) -> tuple[list[Story], SourceReport]:
    """Blocking part: read, normalise, merge same-id rows, cut to [since, until), sort. Run it in a thread."""
    began = time.monotonic()
    report = SourceReport(path)
    step = bars.step("reading", estimate_rows(path, file_format(path, options.format)))
    by_id: dict[str, Story] = {}
    for item in read_rows(path, options):
        report.rows += 1
        step.advance()
        if isinstance(item, RowError):
            report.reject(item)
            continue
        try:
            story = story_from_row(item, linker)
        except EntryError as exc:
            report.reject(RowError(item.number, exc.reason, str(exc)))
            continue
        except ValueError as exc:  # pydantic's ValidationError: a field the Story contract refuses
            report.reject(RowError(item.number, "invalid", str(exc).splitlines()[0]))
            continue
        report.day_only += item.day_only
        if (since is not None and story.published_at < since) or (until is not None and story.published_at >= until):
            report.out_of_range += 1
            continue
        earlier = by_id.get(story.id)
        if earlier is None:
            by_id[story.id] = story
        else:
            report.merged += 1
            by_id[story.id] = _merge(earlier, story)
    step.total(report.rows)
    stories = sorted(by_id.values(), key=lambda s: (s.published_at, s.id))
    report.stories = len(stories)
    report.non_english = sum(not is_english(story.lang) for story in stories)
    if stories:
        report.first_event, report.last_event = stories[0].published_at, stories[-1].published_at
    report.seconds = time.monotonic() - began
    return stories, report


async def load_stories(path: Path, options: ReadOptions, *, linker: TickerLinker | None, dedup: Deduplicator,
                       bars: Bars = SILENT, since: datetime | None = None,
                       until: datetime | None = None) -> LoadedStories:
    """Read ``path`` (in a thread) and admit its stories through ``dedup`` in event order."""
    stories, report = await asyncio.to_thread(read_stories, path, options, linker, bars, since, until)
    new: list[Story] = []
    admitted_by_id: dict[str, Story] = {}
    step = bars.step("dedup", len(stories))
    for offset in range(0, len(stories), ADMIT_CHUNK):
        chunk = stories[offset:offset + ADMIT_CHUNK]
        admitted = await dedup.admit(chunk)
        new.extend(admitted.stories)
        report.near_duplicates += len(admitted.near_duplicates)
        admitted_by_id.update((story.id, story) for story in admitted.stories)
        step.advance(len(chunk))
    report.new, report.known = len(new), len(stories) - len(new)
    return LoadedStories([admitted_by_id.get(story.id, story) for story in stories], new, report)


def _merge(first: Story, second: Story) -> Story:
    """One story seen in two rows: union of tickers and flags, the earlier event time's row wins."""
    keep, other = (first, second) if (first.published_at, 0) <= (second.published_at, 1) else (second, first)
    tickers = list(dict.fromkeys([*keep.tickers, *other.tickers]))
    flags = list(dict.fromkeys([*keep.flags, *other.flags]))
    return keep.model_copy(update={"tickers": tickers, "flags": flags})
