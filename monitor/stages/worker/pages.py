"""The worker's own pages on its Faust web server: ``/metrics``, ``/health`` and ``/api/pipeline``.

(The status page, ``/`` and ``/api/status``, is the shell's: ``monitor.shell.web``.)
"""

from __future__ import annotations

from typing import Any

import faust
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.stages.worker.runtime import WorkerRuntime


def add_pages(app: faust.App, runtime: WorkerRuntime) -> None:
    """Register the worker's pages on ``app``."""

    # The type: ignores below: Faust types page handlers with its own Request/Response; its aiohttp driver (the
    # one Bearwatch runs) hands over aiohttp's web.Request and sends aiohttp's web.Response as they are.
    @app.page("/metrics")  # type: ignore[arg-type]
    async def metrics_page(_: Any, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/api/pipeline")  # type: ignore[arg-type]
    async def pipeline_page(_: Any, request: web.Request) -> web.Response:
        """Produce→stage latency percentiles, scoring rate and backlog; ``?since=<unix seconds>`` limits the
        percentiles to stories that reached a stage since then (the bench reads one phase this way)."""
        raw_since = request.query.get("since")
        since: float | None = None
        if raw_since is not None:
            try:
                since = float(raw_since)
            except ValueError:
                return web.json_response({"error": f"since={raw_since[:40]!r} is not a number: give Unix seconds"},
                                         status=400)
        return web.json_response(runtime.pipeline_status(since), headers={"Cache-Control": "no-store"})

    @app.page("/health")  # type: ignore[arg-type]
    async def health_page(_: Any, request: web.Request) -> web.Response:
        state = await runtime.health()
        return web.json_response(state, status=200 if state["ok"] else 503)
