"""The worker's model, loaded once, inside the running worker, in an executor thread.

Why lazily: loading takes seconds; on the event loop it would stop Kafka heartbeats, and before the loop runs it
would delay the web server that answers ``/health`` ("model": "loading" until then).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from monitor.ground.contracts import ModelInfo
from monitor.ground.settings import Settings
from monitor.stages.model.engine import AsyncEngine, Engine
from monitor.stages.worker import capacity
from monitor.stages.worker.scoring import StoryScorer

log = logging.getLogger(__name__)


class ModelSlot:
    """Holds the worker's :class:`StoryScorer` once :meth:`scorer` has loaded it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._scorer: StoryScorer | None = None

    @property
    def loaded(self) -> bool:
        return self._scorer is not None

    def describe(self) -> dict[str, Any] | str:
        """The engine's description (name, version, device, batching), or "loading"."""
        return self._engine.engine.describe() if self._engine is not None else "loading"

    async def scorer(self) -> StoryScorer:
        """The scorer, loading the model on the first call (in an executor: heartbeats keep flowing)."""
        if self._scorer is None:
            loop = asyncio.get_running_loop()
            # The thread budget leaves the event loop a core (monitor.stages.worker.capacity).
            engine = await loop.run_in_executor(None, Engine.from_settings, capacity.engine_settings(self._settings))
            self._engine = AsyncEngine(engine)
            # The model, torch and the libraries are some 360,000 objects that live as long as the process; a full
            # collection scanned them all (0.14 s on an idle core, longer on a busy one, while the GIL holds the
            # event loop still). Frozen, they are never scanned again.
            gc.freeze()
            log.info("model loaded: %s", engine.describe())
            info = ModelInfo(name=engine.model_name, version=engine.model_version)
            self._scorer = StoryScorer(self._engine.score, info)
        return self._scorer
