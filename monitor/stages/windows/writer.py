"""Write path of the windows: one Lua script per batch, idempotent by story id.

The script (``apply.lua``) sets a per-story marker with ``SET NX`` and only then adds the story to its
buckets, all atomically, so at-least-once delivery (redelivery, a replay, two workers on one partition) still
counts each story exactly once. Python prepares everything that is pure arithmetic (bucket starts, integer
sums) so the script stays a short list of increments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from monitor.ground.contracts import Scope, ScoredStory
from monitor.stages.windows import metrics
from monitor.stages.windows.layout import DEFAULT_ENTITY_MAX_KEYS, MICRO, WindowKeys
from monitor.stages.windows.spans import floor_to, from_ms, to_ms

log = logging.getLogger(__name__)
SCRIPT = (Path(__file__).with_name("apply.lua")).read_text(encoding="utf-8")
CHUNK = 500
TITLE_MAX = 300
ENTITY_KEY_MAX = 64
ENTITIES_PER_STORY = 8
SENTIMENT_LANGUAGES = frozenset({"en"})
_CLASS = {"negative": "neg", "neutral": "neu", "positive": "pos"}


@dataclass
class ApplyResult:
    """What one ``apply`` did. ``touched`` holds the scope keys of stories that were newly counted."""

    applied: int = 0
    duplicates: int = 0
    late: int = 0
    non_english: int = 0
    touched: set[tuple[Scope, str]] = field(default_factory=set)
    watermark: datetime | None = None
    max_event: datetime | None = None


def counts_in_windows(story: ScoredStory) -> bool:
    """Whether a story counts in the sentiment windows: only languages the model reads (unknown counts).

    The shipped model is English; a Polish headline scores "neutral" and would dilute every share it counts in.
    To count another language, plug in a multilingual model and add its code to :data:`SENTIMENT_LANGUAGES`.
    """
    return story.lang is None or story.lang.split("-", 1)[0].lower() in SENTIMENT_LANGUAGES


def scope_keys(story: ScoredStory) -> list[tuple[Scope, str]]:
    """The scope keys a story counts towards: the market, its topic, each distinct ticker, its source and each
    organisation name (``entity``); none for a story in a language the windows do not count.

    This is the one place that decides where a story is counted: the live windows and the backtest's index both
    call it, so they always agree.
    """
    if not counts_in_windows(story):
        return []
    keys: list[tuple[Scope, str]] = [("market", "all")]
    topic = story.topic.label.strip()
    if topic:
        keys.append(("topic", topic))
    else:
        metrics.INVALID.labels(reason="empty_topic").inc()
    seen: set[str] = set()
    for ticker in story.tickers:
        ticker = ticker.strip()
        if not ticker:
            metrics.INVALID.labels(reason="empty_ticker").inc()
            continue
        if ticker not in seen:
            seen.add(ticker)
            keys.append(("ticker", ticker))
    keys.append(("source", story.source.strip() or "unknown"))
    entities: set[str] = set()
    for name in story.entities[:ENTITIES_PER_STORY]:
        key = " ".join(name.lower().split())
        if not key or len(key) > ENTITY_KEY_MAX:
            metrics.INVALID.labels(reason="bad_entity").inc()
            continue
        if key not in entities:
            entities.add(key)
            keys.append(("entity", key))
    return keys


def encode_story(
    story: ScoredStory, levels: Sequence[int], keys: Sequence[tuple[Scope, str]] | None = None
) -> dict[str, Any]:
    """The script's view of one story: event ms, class, integer sums, sample JSON, its buckets."""
    t = to_ms(story.published_at)
    seconds = t // 1000
    score = story.sentiment.score
    sample = {
        "id": story.id,
        "title": story.title[:TITLE_MAX],
        "url": story.url,
        "score": score,
        "published_at": story.published_at.isoformat(),
    }
    recent = {
        **sample,
        "topic": story.topic.label,
        "label": story.sentiment.label,
        "source": story.source,
        "tickers": list(story.tickers),
    }
    return {
        "id": story.id,
        "t": t,
        "c": _CLASS[story.sentiment.label],
        "ss": round(score * MICRO),
        "nv": round(story.novelty * MICRO),
        "nvs": round(story.novelty * score * MICRO),
        "sc": score,
        "j": json.dumps(sample, sort_keys=True, separators=(",", ":")),
        "r": json.dumps(recent, sort_keys=True, separators=(",", ":")),
        "k": [list(pair) for pair in (scope_keys(story) if keys is None else keys)],
        "nr": not counts_in_windows(story),  # not in the recent headlines either
        "b": [[size, floor_to(seconds, size)] for size in levels],
    }


class WindowWriter:
    """Runs ``apply.lua`` over batches of stories (chunked so one call never blocks Redis for long)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: WindowKeys,
        levels: Sequence[int],
        allowed_lateness_s: int,
        sample_size: int,
        retention_s: int,
        recent_size: int,
        entity_max_keys: int = DEFAULT_ENTITY_MAX_KEYS,
    ) -> None:
        self._script = redis.register_script(SCRIPT)
        self._keys = keys
        self._levels = tuple(levels)
        self._lateness_ms = allowed_lateness_s * 1000
        self._sample_size = sample_size
        self._retention_s = retention_s
        self._recent_size = recent_size
        self._entity_max_keys = entity_max_keys

    async def apply(self, stories: Sequence[ScoredStory]) -> ApplyResult:
        result = ApplyResult()
        max_ms: int | None = None
        for offset in range(0, len(stories), CHUNK):
            chunk = stories[offset : offset + CHUNK]
            story_keys = [scope_keys(story) for story in chunk]
            encoded = [
                encode_story(story, self._levels, keys) for story, keys in zip(chunk, story_keys, strict=True)
            ]
            reply = await self._script(
                args=[
                    self._keys.root,
                    self._retention_s,
                    self._lateness_ms,
                    self._sample_size,
                    self._recent_size,
                    json.dumps(encoded, separators=(",", ":")),
                    self._entity_max_keys,
                ]
            )
            applied, duplicates, late, max_event, _min_event, statuses = reply
            result.applied += int(applied)
            result.duplicates += int(duplicates)
            result.late += int(late)
            if max_event not in (b"", ""):
                max_ms = int(max_event)
            for story, keys, status in zip(chunk, story_keys, statuses, strict=True):
                if int(status) and not keys:  # marked seen (a replay waits for that) but counted nowhere
                    result.non_english += 1
                    result.applied -= 1
                    result.late -= int(status) == 2
                    continue
                if int(status):
                    result.touched.update(keys)
                if int(status) == 2:
                    log.info("late story %s (published %s) counted late", story.id, story.published_at)
        metrics.NON_ENGLISH.inc(result.non_english)
        metrics.APPLIED.inc(result.applied)
        metrics.DUPLICATES.inc(result.duplicates)
        metrics.LATE.inc(result.late)
        if max_ms is not None:
            result.max_event = from_ms(max_ms)
            result.watermark = from_ms(max_ms - self._lateness_ms)
        return result
