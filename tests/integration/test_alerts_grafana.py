"""Grafana annotations for alert state changes.

Grafana itself cannot be installed or run on this machine (no registry here ships it), so the test runs a
local aiohttp stand-in of Grafana's HTTP API that records requests, and holds grafana-client's calls against
it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from alerts.delivery import DeliveryPolicy, Notifier
from tests.support.alerts_fixtures import make_alert


@pytest.fixture
async def grafana() -> AsyncIterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    async def annotate(request: web.Request) -> web.Response:
        seen.append(
            {"path": request.path, "auth": request.headers.get("Authorization"), **await request.json()}
        )
        return web.json_response({"id": len(seen), "message": "Annotation added"})

    app = web.Application()
    app.router.add_post("/api/annotations", annotate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_firing_and_resolved_alerts_become_annotations_tagged_with_rule_and_key(
    grafana, make_settings, redis_client, unique: str
) -> None:
    url, seen = grafana
    settings = make_settings(grafana_url=url, grafana_token="glsa_test_token")
    notifier = Notifier(redis_client, settings, f"test{unique}", policy=DeliveryPolicy(group_wait_s=0))
    try:
        repeat = make_alert("spike", "AAPL", evaluated_minute=240)
        repeat = repeat.model_copy(update={"annotations": {**repeat.annotations, "repeat": "true"}})
        assert await notifier.enqueue(make_alert("spike", "AAPL"))
        assert await notifier.enqueue(
            repeat
        )  # queued (for webhooks) but not annotated: the state did not change
        assert await notifier.enqueue(make_alert("spike", "AAPL", "resolved", evaluated_minute=30))
        assert await notifier.drain_once() == 2
    finally:
        await notifier.close()
    assert [s["path"] for s in seen] == ["/api/annotations"] * 2
    assert seen[0]["auth"] == "Bearer glsa_test_token"
    assert [s["tags"] for s in seen] == [
        ["bearwatch", "spike", "AAPL", "firing"],
        ["bearwatch", "spike", "AAPL", "resolved"],
    ]
    start_ms = int(make_alert().starts_at.timestamp() * 1000)
    assert (seen[0]["time"], seen[0]["timeEnd"]) == (start_ms, start_ms)
    assert (seen[1]["time"], seen[1]["timeEnd"]) == (start_ms, start_ms + 30 * 60_000)
    assert "AAPL: 80% negative over 15m" in seen[0]["text"]
