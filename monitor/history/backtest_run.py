"""The in-process backtest: a file through the live read/normalise/dedup and scoring code, then the live
detector's evaluator and lifecycle on in-memory arrays -- no Kafka, and no Redis for the windows.

Stages:

1. :func:`consumers.replay.source.load_stories`: read, normalise, merge, cut to ``--from``/``--to``, sort by
   ``(published_at, id)``, admit through the run's :class:`Deduplicator` (so clusters and novelty are the replay's).
2. Scoring with the worker's :class:`StoryScorer` (each story goes through the same JSON encoding and decoding as
   on the raw topic) over :class:`CachingScore` (disk cache by model key and story id). The scored stories of a
   file are kept in the run cache (:mod:`monitor.history.run_cache`): a second backtest of the same file, options,
   model and code skips steps 1 and 2 (no Redis, no model) and only evaluates.
3. Evaluation: :func:`monitor.history.engine.run_rules` builds each scope key's bucket arrays from the scored
   stories and runs the same :func:`alerts.evaluate.evaluate` and :func:`alerts.lifecycle.walk` the live
   detector runs on arrays read from Redis, from the boundary after the first story to the final watermark.

The run's Redis namespace (used by the Deduplicator) is emptied first, so running a backtest again with the same
run id starts afresh.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from alerts.rules import Rule
from consumers.replay.source import SourceReport, load_stories
from consumers.service import redis_client
from monitor.ground.contracts import Alert, ModelInfo, ScoredStory, Story, encode
from monitor.ground.progress import SILENT, Bars, Step
from monitor.ground.settings import Settings
from monitor.history.engine import Closeness, run_rules
from monitor.history.index import SentimentIndex
from monitor.history.options import RunOptions
from monitor.history.reading import dedup_for, linker_for
from monitor.history.run_cache import CachedRun, RunCache, run_key
from monitor.history.run_names import BACKTESTS, RunNames, set_up_run, timestamp_run_id
from monitor.stages.worker.scoring import RawRecord, StoryScorer

SCORE_BATCH = 256


@dataclass
class BacktestRun:
    """Everything a backtest produced; :mod:`monitor.history.outputs` writes it to files."""

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
    closeness: dict[str, Closeness] = field(default_factory=dict)
    scored_stories: list[ScoredStory] = field(default_factory=list, repr=False)

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


@dataclass
class _Timing:
    score: float = 0.0
    evaluate: float = 0.0


async def _score_stage(stories: list[Story], scorer: StoryScorer, caching: Any,
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


async def _collect_stage(queue: asyncio.Queue[list[ScoredStory] | None], out: list[ScoredStory]) -> int:
    while (batch := await queue.get()) is not None:
        out.extend(batch)
    return len(out)


def run_cache_for(settings: Settings, options: RunOptions) -> tuple[RunCache, str]:
    """The run cache next to the score cache, and this backtest's key in it."""
    names = RunNames(options.run_id or timestamp_run_id(options.path), settings.redis_namespace)
    run_settings = names.settings(settings, options.rules_file)
    folder = (options.cache_path.parent if options.cache_path else settings.var_dir / "cache") / "runs"
    return RunCache(folder), run_key(run_settings, options.path, options.read, options.since, options.until)


def cached(settings: Settings, options: RunOptions) -> bool:
    """Whether this backtest's scored stories are cached (then it needs neither Redis nor the model)."""
    cache, key = run_cache_for(settings, options)
    return (cache.folder / f"{key}.pkl").is_file()


async def _read_and_score(settings: Settings, run_settings: Settings, options: RunOptions, namespace: str,
                          bars: Bars, timing: _Timing) -> tuple[CachedRun, int, int]:
    """Read, de-duplicate and score the file (the slow part a run cache hit skips)."""
    from monitor.history.model import model_identity
    from monitor.history.score_cache import CachingScore, ScoreCache

    if not settings.redis_url:
        raise ValueError("a backtest needs Redis (the CLI starts an embedded one when BEARWATCH_REDIS_URL is unset)")
    redis = redis_client(settings.redis_url)
    cache = ScoreCache(options.cache_path or settings.var_dir / "cache" / "scores.sqlite")
    identity = model_identity(run_settings)
    caching = CachingScore(cache, identity.cache_key, identity.load)
    try:
        await wipe_namespace(redis, namespace)
        loaded = await load_stories(options.path, options.read, linker=linker_for(settings),
                                    dedup=dedup_for(settings, redis, namespace), bars=bars,
                                    since=options.since, until=options.until)
        scorer = StoryScorer(caching.score, identity.info)
        queue: asyncio.Queue[list[ScoredStory] | None] = asyncio.Queue(maxsize=4)
        scoring = bars.step("scoring", len(loaded.new))
        collected: list[ScoredStory] = []
        dead, _ = await asyncio.gather(_score_stage(loaded.new, scorer, caching, queue, scoring, timing),
                                       _collect_stage(queue, collected))
    finally:
        caching.close()
        cache.close()
        await redis.aclose()
    collected.sort(key=lambda s: (s.published_at, s.id))
    return CachedRun(loaded.report, collected, dead, identity.info), caching.hits, caching.misses


async def run_backtest(settings: Settings, options: RunOptions, bars: Bars = SILENT) -> BacktestRun:
    """Backtest ``options.path``. Unless its scored stories are in the run cache, needs ``settings.redis_url``
    (the CLI starts an embedded Valkey when unset) and scores what the score cache lacks."""
    began = time.monotonic()
    run = set_up_run(settings, options.run_id or timestamp_run_id(options.path), options.rules_file,
                     options.out_dir, BACKTESTS)
    names, run_settings, rules, out_dir = run.names, run.settings, run.rules, run.out_dir
    timing = _Timing()
    runs, key = run_cache_for(settings, options)
    paused = gc.isenabled()
    gc.disable()  # tens of thousands of fresh objects and no cycles: the collector would only slow this down
    try:
        return await _run(settings, options, bars, began, names, run_settings, rules, out_dir, timing, runs, key)
    finally:
        if paused:
            gc.enable()


async def _run(settings: Settings, options: RunOptions, bars: Bars, began: float, names: RunNames,
               run_settings: Settings, rules: list[Rule], out_dir: Path, timing: _Timing, runs: RunCache,
               key: str) -> BacktestRun:
    found = runs.get(key)
    hits = misses = 0
    if found is None:
        found, hits, misses = await _read_and_score(settings, run_settings, options, names.namespace, bars, timing)
        runs.put(key, found)
    else:
        hits = len(found.stories)
        found.report.seconds = 0.0
    index = SentimentIndex(run_settings.bucket_seconds)
    index.add(found.stories)
    evaluating = bars.step("evaluating", len(rules))
    began_eval = time.monotonic()
    result = await asyncio.to_thread(run_rules, rules, found.stories, run_settings.bucket_seconds,
                                     run_settings.allowed_lateness_s)
    timing.evaluate = time.monotonic() - began_eval
    evaluating.advance(len(rules))
    return BacktestRun(
        run_id=names.run_id, namespace=names.namespace, out_dir=out_dir, source=found.report, rules=rules,
        alerts=result.alerts, index=index, scored=len(found.stories), dead=found.dead, cache_hits=hits,
        cache_misses=misses, model=found.model, seconds=time.monotonic() - began,
        score_seconds=timing.score, evaluate_seconds=timing.evaluate, closeness=result.closeness,
        scored_stories=found.stories,
    )
