"""The in-process backtest: a file through the live read/normalise/dedup, scoring, window and detector code,
without Kafka, as fast as the model allows.

Stages, overlapped (the model scores batch n+1 on its thread while batch n is evaluated on the event loop):

1. :func:`consumers.replay.source.load_stories`: read, normalise, merge, cut to ``--from``/``--to``, sort by
   ``(published_at, id)``, admit through the run's :class:`Deduplicator` (so clusters and novelty are the replay's).
2. Scoring with the worker's :class:`StoryScorer` (each story goes through the same JSON encoding and decoding as
   on the raw topic) over :class:`CachingScore` (disk cache by model key and story id).
3. Evaluation, in event-time segments of at most :data:`SEGMENT_SECONDS`, exactly like the worker's aggregate
   agent: ``WindowStore.apply(segment)``, then ``Detector.evaluate(touched, watermark)``. After a quiet gap of more
   than :data:`QUIET_GAP_SECONDS`, ``Detector.evaluate`` is first called up to the next segment's first event
   minus the allowed lateness: windows ending there cannot contain the segment's stories, so the outcome is the
   evaluation the worker does when the segment arrives, but the segment's keys are not dragged across the whole
   gap one empty bucket boundary at a time. Window reads go through :class:`SlidingWindowStore` (identical
   numbers, far fewer reads).

The run's Redis namespace is emptied first, so running a backtest again with the same run id starts afresh, and
every rule's detector position is set to the first story's bucket (:func:`consumers.replay.run.start_rules_at`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import redis.asyncio as aioredis

from alerts.detector import Detector
from alerts.rules import Rule, load_rules
from consumers.replay.naming import RunNames, timestamp_run_id
from consumers.replay.progress import SILENT, Bars, Step
from consumers.replay.readers import ReadOptions
from consumers.replay.run import dedup_for, linker_for, start_rules_at
from consumers.replay.source import SourceReport, load_stories
from consumers.service import redis_client
from monitor.backtest.index import SentimentIndex
from monitor.backtest.model import model_identity
from monitor.backtest.score_cache import CachingScore, ScoreCache
from monitor.backtest.sliding import SlidingWindowStore
from monitor.schemas import Alert, ModelInfo, ScoredStory, Story, encode
from monitor.settings import Settings
from monitor.worker.scoring import RawRecord, StoryScorer

SCORE_BATCH = 256
SEGMENT_SECONDS = 1800
SEGMENT_MAX = 500
QUIET_GAP_SECONDS = 1800


@dataclass
class BacktestOptions:
    path: Path
    run_id: str | None = None
    rules_file: Path | None = None
    out_dir: Path | None = None
    events_file: Path | None = None
    since: datetime | None = None
    until: datetime | None = None
    read: ReadOptions = field(default_factory=ReadOptions)
    cache_path: Path | None = None


@dataclass
class BacktestRun:
    """Everything a backtest produced; :mod:`monitor.backtest.outputs` writes it to files."""

    run_id: str
    namespace: str
    out_dir: Path
    source: SourceReport
    rules: list[Rule]
    alerts: list[Alert]
    index: SentimentIndex
    scored: int
    dead: int
    cache_hits: int
    cache_misses: int
    model: ModelInfo
    seconds: float
    score_seconds: float = 0.0
    evaluate_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0


async def wipe_namespace(redis: aioredis.Redis, namespace: str) -> int:
    """Delete every key of ``namespace`` (only this run's: ``<namespace>:*``)."""
    deleted = 0
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=f"{namespace}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += await redis.unlink(*batch)
            batch.clear()
    if batch:
        deleted += await redis.unlink(*batch)
    return deleted


def segments(stories: Sequence[ScoredStory]) -> list[list[ScoredStory]]:
    """Consecutive runs of stories spanning at most SEGMENT_SECONDS of event time (and SEGMENT_MAX stories)."""
    out: list[list[ScoredStory]] = []
    for story in stories:
        if out and len(out[-1]) < SEGMENT_MAX and (
                story.published_at - out[-1][0].published_at).total_seconds() <= SEGMENT_SECONDS:
            out[-1].append(story)
        else:
            out.append([story])
    return out


class Evaluator:
    """The worker's aggregate step (apply, then evaluate on what was touched), segment by segment."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, rules: list[Rule]) -> None:
        self.store = SlidingWindowStore(redis, settings.redis_namespace, settings.bucket_seconds,
                                        settings.allowed_lateness_s)
        self.detector = Detector(redis, self.store, rules, settings.redis_namespace)
        self.lateness = timedelta(seconds=settings.allowed_lateness_s)
        self.watermark: datetime | None = None
        self.alerts: list[Alert] = []

    async def segment(self, stories: list[ScoredStory]) -> None:
        self.store.declare_final(stories[0].published_at)
        quiet_until = stories[0].published_at - self.lateness
        if self.watermark is not None and (quiet_until - self.watermark).total_seconds() > QUIET_GAP_SECONDS:
            self.alerts += await self.detector.evaluate(set(), quiet_until)
        result = await self.store.apply(stories)
        if result.watermark is not None:
            self.watermark = result.watermark
            self.alerts += await self.detector.evaluate(result.touched, result.watermark)


@dataclass
class _Timing:
    score: float = 0.0
    evaluate: float = 0.0


async def _score_stage(stories: list[Story], scorer: StoryScorer, caching: CachingScore,
                       queue: asyncio.Queue[list[ScoredStory] | None], step: Step, timing: _Timing) -> int:
    dead = 0
    try:
        for offset in range(0, len(stories), SCORE_BATCH):
            batch = stories[offset:offset + SCORE_BATCH]
            caching.expect(batch)
            records = [RawRecord("backtest", 0, offset + i, s.id.encode(), encode(s)) for i, s in enumerate(batch)]
            began = time.monotonic()
            outcome = await scorer.score_records(records)
            timing.score += time.monotonic() - began
            dead += len(outcome.dead)
            step.advance(len(batch))
            step.describe(f"scoring ({caching.hits} cached)")
            await queue.put(outcome.scored)
    finally:
        await queue.put(None)
    return dead


async def _evaluate_stage(evaluator: Evaluator, index: SentimentIndex,
                          queue: asyncio.Queue[list[ScoredStory] | None], step: Step, timing: _Timing) -> int:
    done = 0
    while (batch := await queue.get()) is not None:
        began = time.monotonic()
        index.add(batch)
        for part in segments(batch):
            await evaluator.segment(part)
            step.advance(len(part))
        timing.evaluate += time.monotonic() - began
        done += len(batch)
    return done


async def run_backtest(settings: Settings, options: BacktestOptions, bars: Bars = SILENT) -> BacktestRun:
    """Backtest ``options.path``; needs ``settings.redis_url`` (the CLI starts an embedded Valkey when unset)."""
    if not settings.redis_url:
        raise ValueError("a backtest needs Redis (the CLI starts an embedded one when BEARWATCH_REDIS_URL is unset)")
    began = time.monotonic()
    names = RunNames(options.run_id or timestamp_run_id(options.path), settings.redis_namespace)
    run_settings = names.settings(settings, options.rules_file)
    rules = load_rules(run_settings.rules_file)
    out_dir = options.out_dir or settings.var_dir / "backtests" / names.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    redis = redis_client(settings.redis_url)
    cache = ScoreCache(options.cache_path or settings.var_dir / "cache" / "scores.sqlite")
    identity = model_identity(run_settings)
    caching = CachingScore(cache, identity.cache_key, identity.load)
    try:
        await wipe_namespace(redis, names.namespace)
        loaded = await load_stories(options.path, options.read, linker=linker_for(settings),
                                    dedup=dedup_for(settings, redis, names.namespace), bars=bars,
                                    since=options.since, until=options.until)
        stories = loaded.new
        evaluator = Evaluator(redis, run_settings, rules)
        if stories:
            await start_rules_at(redis, run_settings, rules, stories[0].published_at)
        index = SentimentIndex(run_settings.bucket_seconds)
        scorer = StoryScorer(caching.score, identity.info)
        queue: asyncio.Queue[list[ScoredStory] | None] = asyncio.Queue(maxsize=4)
        scoring = bars.step("scoring", len(stories))
        evaluating = bars.step("evaluating", len(stories))
        timing = _Timing()
        dead, scored = await asyncio.gather(_score_stage(stories, scorer, caching, queue, scoring, timing),
                                            _evaluate_stage(evaluator, index, queue, evaluating, timing))
    finally:
        caching.close()
        cache.close()
        await redis.aclose()
    return BacktestRun(
        run_id=names.run_id, namespace=names.namespace, out_dir=out_dir, source=loaded.report, rules=rules,
        alerts=evaluator.alerts, index=index, scored=scored, dead=dead, cache_hits=caching.hits,
        cache_misses=caching.misses, model=identity.info, seconds=time.monotonic() - began,
        score_seconds=timing.score, evaluate_seconds=timing.evaluate,
    )
