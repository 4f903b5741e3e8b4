"""The worker's model, loaded once, inside the running worker, off the event loop.

Why lazily: loading takes seconds; on the event loop it would stop Kafka heartbeats, and before the loop runs it
would delay the web server that answers ``/health`` ("model": "loading" until then).

Where it runs (``BEARWATCH_MODEL_PROCESS``): by default in a child process of its own
(:mod:`monitor.stages.model.process_engine`), so torch and the event loop never queue for one GIL; otherwise on a
thread of the worker process (:class:`monitor.stages.model.engine.AsyncEngine`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

from monitor.ground.contracts import ModelInfo
from monitor.ground.settings import Settings
from monitor.stages.model.process_engine import ProcessEngine, engine_kwargs
from monitor.stages.worker import capacity
from monitor.stages.worker.scoring import StoryScorer

if TYPE_CHECKING:  # torch stays out of the worker process unless the model runs in it
    from monitor.stages.model.engine import AsyncEngine

log = logging.getLogger(__name__)


class ModelSlot:
    """Holds the worker's :class:`StoryScorer` once :meth:`scorer` has loaded it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: ProcessEngine | AsyncEngine | None = None
        self._scorer: StoryScorer | None = None

    @property
    def loaded(self) -> bool:
        return self._scorer is not None

    def describe(self) -> dict[str, Any] | str:
        """The engine's description (name, version, device, batching, process), or "loading"."""
        return self._engine.describe() if self._engine is not None else "loading"

    async def scorer(self) -> StoryScorer:
        """The scorer, loading the model on the first call (heartbeats keep flowing meanwhile)."""
        if self._scorer is None:
            # The thread budget leaves the event loop a core (monitor.stages.worker.capacity).
            settings = capacity.engine_settings(self._settings)
            if settings.model_process:
                engine: ProcessEngine | AsyncEngine = await ProcessEngine.start(engine_kwargs(settings))
            else:
                from monitor.stages.model.engine import AsyncEngine, Engine  # torch only when it runs here

                loop = asyncio.get_running_loop()
                engine = AsyncEngine(await loop.run_in_executor(None, Engine.from_settings, settings))
            self._engine = engine
            # Torch, the model (when in this process), Faust and the libraries are objects that live as long as the
            # process; a full collection scanned them all (0.14 s on an idle core with the model here, while the
            # GIL held the event loop still). Frozen, they are never scanned again.
            gc.freeze()
            log.info("model loaded: %s", engine.describe())
            self._scorer = StoryScorer(engine.score, ModelInfo(name=engine.model_name, version=engine.model_version))
        return self._scorer
