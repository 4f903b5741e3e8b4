"""The engine in a child process: the same scores as in-process, and a child that dies is replaced.

Uses a real spawned child (the worker's default), loading the tiny test model.
"""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from monitor.stages.model.engine import Engine
from monitor.stages.model.process_engine import ProcessEngine
from tests.support.worker_fixtures import tiny_model_dir  # noqa: F401 - fixture

TEXTS = ["Acme shares slump after profit warning", "Fed holds rates steady", "Oil jumps as supply tightens",
         "Bank of Nowhere seized as depositors pull cash", "Dividend raised by 10%"]


async def test_child_scores_equal_the_in_process_engine_and_survive_a_killed_child(tiny_model_dir: Path) -> None:  # noqa: F811
    kwargs = {"model_dir": str(tiny_model_dir), "batch_size": 2, "max_tokens": 32, "cpu_threads": 1, "int8": True}
    local = Engine(**kwargs).score(TEXTS)
    async with await ProcessEngine.start(kwargs) as engine:
        assert engine.model_version and engine.describe()["process"] == "own"
        assert await engine.score(TEXTS) == local

        child_pids = list(engine._pool._processes)  # noqa: SLF001 - the test needs the child to kill it
        assert child_pids and os.getpid() not in child_pids
        os.kill(child_pids[0], signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):  # the call in flight on the dead child fails (the scorer retries it)
            await engine.score(TEXTS)
        assert await engine.score(TEXTS) == local  # a new child took over
        assert engine.restarts == 1
