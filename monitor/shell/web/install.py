"""Mount the status page, its JSON API and the sentiment-gauge refresher on the Faust worker's web server.

The worker already serves ``/metrics`` and ``/health``; this adds ``/`` and ``/api/status`` to the same
server and port, and a task that refreshes the sentiment gauges, so ``make run`` needs no extra process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from monitor.ground.redact import redact_text
from monitor.shell.web.alert_source import firing_source
from monitor.shell.web.sentiment_gauges import SentimentGauges
from monitor.shell.web.status_page import StatusPage

if TYPE_CHECKING:
    import faust

    from monitor.stages.worker.runtime import WorkerRuntime

log = logging.getLogger(__name__)


def _drop_faust_index(app: faust.App) -> None:
    """Faust mounts its own ``{"status": "OK"}`` index (or its stats page) at ``/``, and aiohttp refuses a second
    GET route on a path. Faust offers no setting to turn that index off, so it is taken out of the list of
    blueprints Faust applies when its web server starts (``/health`` already tells whether the worker is up)."""
    manager = app.web.blueprints
    manager._enabled = [(prefix, bp) for prefix, bp in manager._enabled if prefix != ""]  # noqa: SLF001


def install_web(app: faust.App, runtime: WorkerRuntime) -> tuple[SentimentGauges, StatusPage]:
    """Register ``/``, ``/api/status`` and the gauge refresher on the worker's ``app``.

    Called by ``monitor.shell.worker_app`` after the worker's own pages. Returns the gauges and the page (handy in
    tests).
    """
    settings = runtime.settings
    store = runtime.store
    refresh_s = settings.gauge_refresh_s
    firing = firing_source(runtime.redis, settings.redis_namespace, settings.rules_file)
    gauges = SentimentGauges(store, top_tickers=settings.gauge_top_tickers, firing=firing)
    gauges.register()
    page = StatusPage(store, firing, pipeline=runtime.pipeline_status, stale_after_s=settings.feeds_stale_after_s)
    _drop_faust_index(app)

    # The type: ignores below: Faust types page handlers with its own Request/Response; its aiohttp driver (the
    # one Bearwatch runs) hands over aiohttp's web.Request and sends aiohttp's web.Response as they are.
    @app.page("/")  # type: ignore[arg-type]
    async def status_html(_: Any, request: web.Request) -> web.Response:
        return web.Response(body=page.html(), content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.page("/api/status")  # type: ignore[arg-type]
    async def status_json(_: Any, request: web.Request) -> web.Response:
        try:
            body = await asyncio.wait_for(page.status(), 10)
        except Exception as exc:  # noqa: BLE001 - the page shows the reason instead of a bare 500
            log.warning("status page read failed: %s: %s", type(exc).__name__, exc)
            return web.json_response({"error": redact_text(f"{type(exc).__name__}: {exc}")}, status=503)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    @app.task
    async def refresh_sentiment_gauges() -> None:
        """First refresh at start-up (a timer would wait a whole interval), then every ``refresh_s``."""
        while True:
            await gauges.refresh_safely()
            await asyncio.sleep(refresh_s)

    return gauges, page
