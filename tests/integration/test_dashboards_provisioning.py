"""``bearwatch dashboards push`` through the real grafana-client, against a local stand-in of Grafana's HTTP API.

Grafana itself cannot be installed on this machine (no package registry here carries it), so these tests run a
small aiohttp server that implements the endpoints the push uses (datasources by uid, folders, dashboards by
uid, /api/dashboards/db) with state, token checks and Grafana's error codes, and records every request. What is
real: grafana-client, its HTTP calls and JSON bodies, our CLI. What is not: Grafana's storage and UI.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from grafana_client import GrafanaApi
from typer.testing import CliRunner

from dashboards.builder import DATASOURCE_UID
from dashboards.catalog import load_all
from dashboards.provisioning import FOLDER_UID, Provisioner, ProvisioningError
from monitor.ground.stack.process import free_port
from monitor.shell.cli import app as cli_app

TOKEN = "glsa_test_token"
WRITES = ("POST", "PUT", "DELETE", "PATCH")


@dataclass
class FakeGrafana:
    """State and request log of the stand-in (one organisation)."""

    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] in WRITES]


def grafana_app(state: FakeGrafana) -> web.Application:
    def missing(what: str) -> web.Response:
        return web.json_response({"message": f"{what} not found"}, status=404)

    @web.middleware
    async def record_and_authenticate(request: web.Request, handler):
        body = await request.json() if request.can_read_body else None
        state.requests.append((request.method, request.path, body))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"database": "ok", "version": "11.3.0"})

    async def get_datasource(request: web.Request) -> web.Response:
        found = state.datasources.get(request.match_info["uid"])
        return web.json_response(found) if found else missing("Data source")

    async def create_datasource(request: web.Request) -> web.Response:
        body = await request.json()
        if any(ds["name"] == body["name"] for ds in state.datasources.values()):
            return web.json_response({"message": "data source with the same name already exists"}, status=409)
        stored = {"id": next(state.ids), "orgId": 1, "readOnly": False, "basicAuth": False, **body}
        state.datasources[body["uid"]] = stored
        return web.json_response({"datasource": stored, "id": stored["id"], "message": "Datasource added"})

    async def update_datasource(request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        if uid not in state.datasources:
            return missing("Data source")
        state.datasources[uid] = {**state.datasources[uid], **await request.json()}
        return web.json_response({"datasource": state.datasources[uid], "message": "Datasource updated"})

    async def get_folder(request: web.Request) -> web.Response:
        found = state.folders.get(request.match_info["uid"])
        return web.json_response(found) if found else missing("folder")

    async def create_folder(request: web.Request) -> web.Response:
        body = await request.json()
        if body["uid"] in state.folders:
            return web.json_response({"message": "a folder with the same uid already exists"}, status=409)
        state.folders[body["uid"]] = {"id": next(state.ids), "uid": body["uid"], "title": body["title"], "version": 1}
        return web.json_response(state.folders[body["uid"]])

    async def update_folder(request: web.Request) -> web.Response:
        folder = state.folders.get(request.match_info["uid"])
        if folder is None:
            return missing("folder")
        folder.update(title=(await request.json())["title"], version=folder["version"] + 1)
        return web.json_response(folder)

    async def get_dashboard(request: web.Request) -> web.Response:
        found = state.dashboards.get(request.match_info["uid"])
        return web.json_response(copy.deepcopy(found)) if found else missing("Dashboard")

    async def save_dashboard(request: web.Request) -> web.Response:
        body = await request.json()
        dashboard, folder = body["dashboard"], body.get("folderUid")
        if folder and folder not in state.folders:
            return web.json_response({"message": "folder not found"}, status=400)
        existing = state.dashboards.get(dashboard["uid"])
        if existing and not body.get("overwrite"):
            return web.json_response({"message": "A dashboard with the same uid already exists",
                                      "status": "name-exists"}, status=412)
        version = existing["dashboard"]["version"] + 1 if existing else 1
        number = existing["dashboard"]["id"] if existing else next(state.ids)
        stored = {**dashboard, "id": number, "version": version}
        state.dashboards[dashboard["uid"]] = {"dashboard": stored,
                                              "meta": {"folderUid": folder, "version": version}}
        return web.json_response({"id": number, "uid": dashboard["uid"], "status": "success", "version": version,
                                  "url": f"/d/{dashboard['uid']}"})

    app = web.Application(middlewares=[record_and_authenticate])
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/datasources/uid/{uid}", get_datasource)
    app.router.add_post("/api/datasources", create_datasource)
    app.router.add_put("/api/datasources/uid/{uid}", update_datasource)
    app.router.add_get("/api/folders/{uid}", get_folder)
    app.router.add_post("/api/folders", create_folder)
    app.router.add_put("/api/folders/{uid}", update_folder)
    app.router.add_get("/api/dashboards/uid/{uid}", get_dashboard)
    app.router.add_post("/api/dashboards/db", save_dashboard)
    return app


@pytest.fixture
async def grafana() -> AsyncIterator[tuple[FakeGrafana, str]]:
    state = FakeGrafana()
    runner = web.AppRunner(grafana_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def push(url: str, prometheus: str = "http://prometheus:9090", token: str = TOKEN,
         dashboards: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    provisioner = Provisioner(GrafanaApi.from_url(url, credential=token), prometheus)
    return [(c.kind, c.name, c.action) for c in provisioner.push(dashboards or load_all())]


async def test_first_push_creates_everything_and_the_second_sends_no_write(grafana) -> None:
    state, url = grafana
    first = await asyncio.to_thread(push, url)
    assert [action for *_, action in first] == ["created"] * 5
    assert state.datasources[DATASOURCE_UID]["url"] == "http://prometheus:9090"
    assert state.folders[FOLDER_UID]["title"] == "Bearwatch"
    assert set(state.dashboards) == {"bearwatch-market", "bearwatch-ticker", "bearwatch-pipeline"}
    assert all(d["meta"]["folderUid"] == FOLDER_UID for d in state.dashboards.values())
    assert [(method, path) for method, path, _ in state.writes()] == [
        ("POST", "/api/datasources"), ("POST", "/api/folders")] + [("POST", "/api/dashboards/db")] * 3
    stored = state.dashboards["bearwatch-market"]["dashboard"]
    assert stored["panels"] == load_all()["market-overview.json"]["panels"]

    state.requests.clear()
    second = await asyncio.to_thread(push, url)
    assert [action for *_, action in second] == ["unchanged"] * 5
    assert state.writes() == [], "an unchanged push must not write anything"
    assert len(state.requests) == 5, "one read per object"


async def test_a_changed_dashboard_and_prometheus_url_are_updated_and_nothing_else(grafana) -> None:
    state, url = grafana
    await asyncio.to_thread(push, url)
    edited = load_all()
    edited["ticker-drilldown.json"]["panels"][1]["title"] = "Negative share now"
    state.requests.clear()
    changes = await asyncio.to_thread(push, url, "http://prom.internal:9090", TOKEN, edited)
    assert changes == [
        ("datasource", "Bearwatch Prometheus", "updated"), ("folder", "Bearwatch", "unchanged"),
        ("dashboard", "Bearwatch — Market overview", "unchanged"),
        ("dashboard", "Bearwatch — Ticker drill-down", "updated"),
        ("dashboard", "Bearwatch — Pipeline health", "unchanged"),
    ]
    assert [(m, p) for m, p, _ in state.writes()] == [
        ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"), ("POST", "/api/dashboards/db")]
    assert state.datasources[DATASOURCE_UID]["url"] == "http://prom.internal:9090"
    assert state.dashboards["bearwatch-ticker"]["dashboard"]["version"] == 2
    assert state.writes()[1][2]["overwrite"] is True


async def test_an_invalid_dashboard_stops_the_push_before_any_write(grafana) -> None:
    state, url = grafana
    broken = load_all()
    broken["market-overview.json"]["panels"][1]["datasource"] = {"uid": "some-other-prometheus"}
    with pytest.raises(ProvisioningError, match="market-overview.json"):
        await asyncio.to_thread(push, url, "http://prometheus:9090", TOKEN, broken)
    assert state.requests == []


async def test_cli_push_reads_the_token_from_the_environment_and_reports_changes(grafana) -> None:
    state, url = grafana
    runner = CliRunner()
    env = {"BEARWATCH_GRAFANA_TOKEN": TOKEN, "BEARWATCH_PROMETHEUS_URL": "http://prometheus:9090"}
    args = ["dashboards", "push", "--grafana-url", url]
    first = await asyncio.to_thread(runner.invoke, cli_app, args, env=env)
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 5 and "5 of 5 objects changed" in first.output
    second = await asyncio.to_thread(runner.invoke, cli_app, args, env=env)
    assert second.exit_code == 0 and "is up to date (5 objects unchanged)" in second.output
    dry = await asyncio.to_thread(runner.invoke, cli_app, [*args, "--dry-run"],
                                  env={**env, "BEARWATCH_PROMETHEUS_URL": "http://elsewhere:9090"})
    assert "would update" in dry.output and state.datasources[DATASOURCE_UID]["url"] == "http://prometheus:9090"

    refused = await asyncio.to_thread(runner.invoke, cli_app, args, env={**env, "BEARWATCH_GRAFANA_TOKEN": "wrong"})
    assert refused.exit_code == 2
    assert "refused the credentials" in refused.output


async def test_cli_push_names_an_unreachable_grafana_instead_of_a_traceback() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["dashboards", "push", "--grafana-url", closed],
                                     env={"BEARWATCH_GRAFANA_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert f"cannot reach Grafana at {closed}" in result.output and "Traceback" not in result.output
