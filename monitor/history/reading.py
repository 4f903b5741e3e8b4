"""The live consumers' parts a run reads its file with: their ticker linker and their de-duplicator.

A replayed or backtested story must get the tickers, cluster and novelty it would have had live, so both runs
build these exactly as ``bearwatch consumers`` does, with the de-duplicator on the run's own namespace.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from consumers.dedup import Deduplicator
from consumers.linking import build_linker
from consumers.registry import EngineConfig, RegistryError, load_registry
from consumers.tickers import TickerLinker
from monitor.ground.settings import Settings


def dedup_for(settings: Settings, redis: aioredis.Redis, namespace: str) -> Deduplicator:
    """A Deduplicator with the live consumers' knobs (``[engine]`` of the feed registry), on ``namespace``."""
    try:
        engine = load_registry(settings).engine
    except RegistryError:
        engine = EngineConfig()
    return Deduplicator(redis, namespace, seen_ttl_s=engine.seen_ttl_s, window_s=engine.near_dup_window_s,
                        threshold=engine.near_dup_threshold)


def linker_for(settings: Settings) -> TickerLinker:
    """The live consumers' linker (watchlist, brands, SEC table as of ``settings.tickers_asof``)."""
    return build_linker(settings)
