"""The engine in its own process: the worker's event loop and the model never wait on one another for the GIL.

Why: in one process, torch's thread runs the forward pass while the event loop decodes, encodes, talks to Kafka
and Redis. Every layer of the forward pass takes the GIL for its Python glue, and so does every line the loop
runs; on a 2-core machine the two took turns and the live path reached 0.57 of the bare engine's rate on a quiet
machine (bench/pipeline_throughput.py, docs/latency.md). In a child process the model has a core of its own and
the parent only ships strings in and small results out (about 1 KB per story, pickled).

Calls queue in submission order on one child (one model instance, never called concurrently), so a caller may
submit the next chunk before it has used the previous one's result: that is how the score agent keeps the model
busy while it publishes (:meth:`monitor.stages.worker.scoring.StoryScorer.score_chunks`).

The child is spawned (never forked: a forked torch with live threads can deadlock), gets ``PR_SET_PDEATHSIG`` so it
never outlives the worker, and is started again on the next call if it dies; the call that was in flight fails and
the scorer's retry covers it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from monitor.stages.model.results import ScoredText

if TYPE_CHECKING:
    from monitor.stages.model.engine import Engine

log = logging.getLogger(__name__)

_ENGINE: Engine | None = None  # the child's engine, built by _load_in_child


def _load_in_child(kwargs: dict[str, Any]) -> None:
    """Process initializer: die with the parent, load the engine once, freeze the collector over the model."""
    import gc

    from monitor.ground.stack.process import die_with_parent
    from monitor.stages.model.engine import Engine  # here, not at the top: torch belongs to the child only

    global _ENGINE
    die_with_parent()
    _ENGINE = Engine(**kwargs)
    gc.freeze()  # ~360,000 long-lived objects of torch and the model: never scanned by a full collection again


def _describe_in_child() -> dict[str, Any]:
    assert _ENGINE is not None, "the engine process has no engine: its initializer failed"
    return _ENGINE.describe()


def _score_in_child(texts: list[str]) -> list[ScoredText]:
    assert _ENGINE is not None, "the engine process has no engine: its initializer failed"
    return _ENGINE.score(texts)


def engine_kwargs(settings: Any) -> dict[str, Any]:
    """The :class:`Engine` arguments of a Bearwatch ``Settings``; :meth:`Engine.from_settings` uses them too."""
    return {"model_dir": str(settings.model_path), "device": settings.device, "batch_size": settings.model_batch,
            "max_tokens": settings.max_tokens, "cpu_threads": settings.cpu_threads, "int8": settings.int8}


class ProcessEngine:
    """:class:`monitor.stages.model.engine.AsyncEngine`'s interface over an engine in a child process.

    Build it with :meth:`start` (loads the model in the child and waits for it, without blocking the loop).
    """

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self._kwargs = kwargs
        self._pool = self._new_pool()
        self._described: dict[str, Any] = {}
        self.restarts = 0

    @classmethod
    async def start(cls, kwargs: dict[str, Any]) -> ProcessEngine:
        engine = cls(kwargs)
        loop = asyncio.get_running_loop()
        engine._described = await loop.run_in_executor(engine._pool, _describe_in_child)
        return engine

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_load_in_child, initargs=(self._kwargs,))

    @property
    def model_name(self) -> str:
        return str(self._described.get("name", ""))

    @property
    def model_version(self) -> str:
        return str(self._described.get("version", ""))

    def describe(self) -> dict[str, Any]:
        return {**self._described, "process": "own"}

    async def score(self, texts: Sequence[str]) -> list[ScoredText]:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, _score_in_child, list(texts))
        except BrokenProcessPool:
            if pool is self._pool:  # the first of the calls that were queued on the dead child replaces it
                self.restarts += 1
                log.error("the model process died (restart %d); starting a new one, the caller retries this call",
                          self.restarts)
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def __aenter__(self) -> ProcessEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
