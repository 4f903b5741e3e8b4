"""The composed worker (``monitor.shell.worker_app``) has every agent and page, wired to typed parts.

Building the app connects to nothing (Faust and redis-py connect when started), so no server is needed here; the
running worker is exercised by ``tests/e2e/test_worker_pipeline.py``.
"""

from __future__ import annotations

from pathlib import Path

from alerts.detector import Detector
from monitor.ground.settings import load_settings
from monitor.shell.worker_app import build_worker
from monitor.stages.worker import capacity


def test_the_worker_app_has_its_agents_and_its_parts(tmp_path: Path) -> None:
    settings = load_settings(kafka_url="127.0.0.1:9", redis_url="redis://127.0.0.1:9/0", var_dir=tmp_path,
                             model_batch=8, aggregate_batch=50)
    stage = build_worker(settings)
    assert list(stage.app.agents) == ["score", "aggregate", "notify"]
    assert isinstance(stage.runtime.detector, Detector)
    assert stage.runtime.detector.store is stage.runtime.store  # one store, one Redis client
    assert stage.runtime.store.redis is stage.runtime.redis
    read_ahead = 8 * capacity.READ_BATCHES * capacity.READ_AHEAD_BATCHES  # model_batch 8 in this test's settings
    assert stage.app.conf.stream_buffer_maxsize == capacity.read_ahead(settings) == read_ahead
    assert not stage.runtime.model.loaded

