"""A tiny aiohttp server for ``/health`` (JSON, one entry per component) and ``/metrics`` (Prometheus).

Any process can mount it: ``bearwatch up`` reports the stack and its child services, the consumers and the
worker report their own parts. A component check is an async callable returning a dict with at least
``ok: bool``; a check that raises or times out is reported as not ok with the reason, never as a 500.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.ground.redact import redact_text

Check = Callable[[], Awaitable[dict[str, Any]]]


async def _run_check(check: Check, timeout_s: float) -> dict[str, Any]:
    try:
        result = await asyncio.wait_for(check(), timeout_s)
    except Exception as exc:  # noqa: BLE001 - a failing check is a finding, not a crash
        return {"ok": False, "error": redact_text(f"{type(exc).__name__}: {exc}")}
    return redact_values(result)


def redact_values(value: Any) -> Any:
    """Every string inside a check's answer through :func:`monitor.ground.redact.redact_text` (URLs carry passwords)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_values(item) for item in value]
    return value


def health_app(checks: dict[str, Check], timeout_s: float = 3.0) -> web.Application:
    """Build the app; ``checks`` may be mutated later (services appear as they start)."""
    started = time.time()

    async def health(_: web.Request) -> web.Response:
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[name], timeout_s) for name in names))
        components = dict(zip(names, results, strict=True))
        healthy = all(item.get("ok") for item in components.values())
        body = {
            "status": "ok" if healthy else "degraded",
            "uptime_s": round(time.time() - started, 1),
            "components": components,
        }
        return web.json_response(body, status=200 if healthy else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving ``app``; the caller keeps the runner and calls ``cleanup()`` on exit."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
