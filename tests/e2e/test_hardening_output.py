"""Secrets, chat injection and one-line errors in what Bearwatch prints (issue 15, items 5, 6, 7, 10, 14)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.delivery import slack, teams
from alerts.delivery.grafana import with_trailing_slash
from monitor.ground.redact import install_log_redaction, redact_text, redact_url, remember_secret
from monitor.ground.running import preflight
from monitor.ground.settings import SettingsError, load_settings, unknown_env_vars
from monitor.shell.health import _run_check
from monitor.stages.windows.cli import MAX_SPAN
from tests.support.alerts_fixtures import make_alert

ROOT = Path(__file__).resolve().parents[2]


def _bearwatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BEARWATCH_")}
    return subprocess.run([sys.executable, "-m", "monitor.shell.cli", *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=240, cwd=ROOT)


@pytest.mark.parametrize(("url", "secret"), [
    ("redis://:hunter2pw@localhost:6379/0", "hunter2pw"),
    ("https://newsapi.org/v2/top?apiKey=abc123def&q=bank", "abc123def"),
    ("https://hooks.slack.com/services/T0001/B0001/XyZsecretTokenValue", "XyZsecretTokenValue"),
    ("https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=1&sig=S1GNATURE", "S1GNATURE"),
    ("http://user:pass-word@feeds.example.com/rss", "pass-word"),
])
def test_redact_url_masks_the_secret_and_keeps_the_host(url: str, secret: str) -> None:
    shown = redact_url(url)
    assert secret not in shown and "***" in shown
    assert url.split("/")[2].split("@")[-1].split(":")[0] in shown
    assert secret not in redact_text(f"failed: HTTP 401 from {url} (retrying)")


def test_log_records_are_redacted_and_httpx_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    remember_secret("my-feed-key-42")
    with caplog.at_level(logging.INFO):
        logging.getLogger("consumers.poller").warning("feed x: HTTP 401 from %s", "https://a.com/?token=zzz")
        logging.getLogger("anything").warning("key my-feed-key-42 leaked")
        logging.getLogger("httpx").info("HTTP Request: POST https://hooks.slack.com/services/T/B/tok")
    text = caplog.text
    assert "zzz" not in text and "my-feed-key-42" not in text and "hooks.slack.com" not in text


async def test_health_answers_are_redacted() -> None:
    async def check() -> dict[str, object]:
        return {"ok": True, "url": "redis://:s3cr3tpw@127.0.0.1:6379/0"}

    async def broken() -> dict[str, object]:
        raise ConnectionError("cannot reach redis://:s3cr3tpw@127.0.0.1:6379/0")

    assert "s3cr3tpw" not in json.dumps(await _run_check(check, 1.0))
    assert "s3cr3tpw" not in json.dumps(await _run_check(broken, 1.0))


def test_invalid_settings_do_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEARWATCH_REDIS_URL", "http://:pw-in-url@host/?token=tok-in-url")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "pw-in-url" not in str(caught.value) and "tok-in-url" not in str(caught.value)


def test_doctor_prints_no_password() -> None:
    result = _bearwatch("doctor", BEARWATCH_REDIS_URL="redis://:doctorpw123@127.0.0.1:1/0",
                        BEARWATCH_GRAFANA_URL="http://admin:grafpw456@127.0.0.1:1/",
                        BEARWATCH_WEBHOOKS='[{"name":"ops","url":"https://hooks.slack.com/services/T1/B1/hooktok789x"}]')
    out = result.stdout + result.stderr
    assert "redis" in out and "Traceback" not in out
    assert "doctorpw123" not in out and "grafpw456" not in out and "hooktok789x" not in out


def test_webhooks_that_are_not_json_are_one_line_for_every_command() -> None:
    for args in (["windows", "show", "-k", "AAPL"], ["alerts", "list"], ["feeds", "list"], ["doctor"]):
        result = _bearwatch(*args, BEARWATCH_WEBHOOKS="not json")
        out = result.stdout + result.stderr
        assert result.returncode != 0 and "Traceback" not in out, (args, out)
        assert "BEARWATCH_WEBHOOKS" in out and "JSON" in out, (args, out)


def test_an_unknown_bearwatch_variable_gets_a_warning() -> None:
    assert unknown_env_vars({"BEARWATCH_REDIS_URI": "x", "BEARWATCH_REDIS_URL": "redis://x", "HOME": "/"}) == [
        "BEARWATCH_REDIS_URI is not a Bearwatch setting and is ignored (did you mean BEARWATCH_REDIS_URL?)"]
    result = _bearwatch("windows", "show", "-k", "AAPL", BEARWATCH_REDIS_URI="redis://x")
    assert "BEARWATCH_REDIS_URI is not a Bearwatch setting" in result.stderr


@pytest.mark.parametrize("args", [
    ["top", "--span", "99999999999999999999d"], ["windows", "show", "-k", "A", "--span", "9999999999999d"],
    ["top", "--at", "9999-12-31T23:59:59Z"], ["top", "--min-volume", "1e400"], ["top", "--at", "0001-01-01T00:00Z"],
])
def test_windows_commands_with_huge_numbers_are_one_line(args: list[str]) -> None:
    result = _bearwatch(*args, BEARWATCH_REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: --"), result.stderr
    assert MAX_SPAN.days > 365


def _with_samples(**changes: dict[str, str]):  # noqa: ANN202 - test helper
    alert = make_alert()
    samples = [alert.samples[i].model_copy(update=changes.get(f"s{i}", {})) for i in range(len(alert.samples))]
    return alert.model_copy(update={"samples": samples})


def test_a_slack_link_cannot_inject_markup() -> None:
    alert = _with_samples(s0={"url": "http://evil.example/a>  <!channel> |x"},
                          s1={"title": "<!here> click <http://phish.example|your bank>"})
    body = json.dumps(slack.build([alert]))
    assert "<!channel>" not in body and "<!here>" not in body and "<http://phish" not in body
    assert "http://evil.example/a%3E%20%20%3C!channel%3E%20%7Cx" in body


def test_a_teams_card_gets_only_safe_links_and_an_http_button() -> None:
    alert = _with_samples(s0={"url": "javascript:alert(1)"},
                          s1={"url": "http://evil.example/x) [Reset your password](http://phish.example",
                              "title": "Bank [login](http://phish.example) **now**"})
    card = teams.build([alert])["attachments"][0]["content"]
    text = json.dumps(card)
    assert "javascript:" not in text and "](http://phish.example)" not in text and "**now**" not in text
    button = card["actions"][0]["url"]
    assert button.startswith("http://evil.example/x%29%20%5BReset"), button


def test_grafana_sub_path_keeps_its_slash() -> None:
    assert with_trailing_slash("http://host:3000/grafana") == "http://host:3000/grafana/"
    assert with_trailing_slash("http://host:3000") == "http://host:3000"


def test_worker_web_server_binds_the_configured_host(make_settings) -> None:  # noqa: ANN001
    from monitor.shell.worker_app import create_app

    app = create_app(make_settings(http_host="127.0.0.1"))
    assert app.conf.web_bind == "127.0.0.1"


def test_up_refuses_a_busy_port_in_one_line(make_settings) -> None:  # noqa: ANN001
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = preflight(make_settings(worker_port=port, http_port=0, ingest_port=0))
    assert problem is not None and f"port {port}" in problem and "BEARWATCH_WORKER_PORT" in problem


def test_stale_feeds_are_described_once_the_threshold_passes() -> None:
    from consumers.health import IngestSummary

    fresh = IngestSummary(started_at=1000.0, last_success=1500.0, last_error="f: connect: refused", feeds=3)
    assert fresh.stale_reason(1500.0 + 1799, 1800) is None
    reason = fresh.stale_reason(1500.0 + 3600, 1800)
    assert reason == "no feed succeeded in the last 60 min (last error: f: connect: refused)"
    never = IngestSummary(started_at=1000.0, feeds=3)
    assert "since the consumers started 30 min ago" in (never.stale_reason(2800.0, 1800) or "")
    assert IngestSummary(started_at=1000.0, feeds=0).stale_reason(1e9, 1800) is None


async def test_status_page_shows_a_banner_when_no_feed_succeeds(redis_client, unique: str) -> None:  # noqa: ANN001
    import time

    from consumers.health import HealthStore, IngestSummary
    from monitor.shell.web.status_page import StatusPage
    from monitor.stages.windows import WindowStore

    namespace = f"stale{unique}"
    store = WindowStore(redis_client, namespace, 60, 300)
    page = StatusPage(store, stale_after_s=60.0)
    assert (await page.status())["feeds_problem"] is None  # no consumers: nothing to say
    summary = IngestSummary(started_at=time.time() - 600, last_success=0.0, feeds=2,
                            last_error="reuters: connect: cannot connect to https://x.example/?apiKey=k-999")
    await HealthStore(redis_client, namespace).record_summary(summary)
    page = StatusPage(store, stale_after_s=60.0)
    problem = (await page.status())["feeds_problem"]
    assert problem.startswith("no feed has succeeded since the consumers started 10 min ago")
    assert "k-999" not in problem


async def test_ingest_health_is_503_when_no_feed_succeeded_for_too_long(make_settings) -> None:  # noqa: ANN001
    import time

    from consumers.registry import FeedConfig, Registry
    from consumers.service import IngestService

    settings = make_settings(feeds_stale_after_s=60.0)
    registry = Registry(feeds=[FeedConfig(name="dead", url="http://127.0.0.1:1/feed", source="Dead")])
    service = IngestService(settings, registry)
    try:
        assert (await service._health(None)).status == 200  # just started: not stale yet
        service.started_at = time.time() - 600
        service.last_error = "dead: connect: cannot connect"
        answer = await service._health(None)
        body = json.loads(answer.body)
        assert answer.status == 503 and body["status"] == "degraded"
        assert body["problem"].startswith("no feed has succeeded since the consumers started 10 min ago")
    finally:
        await service.fetcher.aclose()
        await service.redis.aclose()


def test_feeds_check_reads_a_local_file(tmp_path: Path) -> None:
    from tests.support.consumers_fixtures import items, rss

    saved = tmp_path / "saved feed.xml"
    saved.write_bytes(rss(items("local", 3)))
    result = _bearwatch("feeds", "check", str(saved), "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "3 stories from 3 entries" in result.stdout
    missing = _bearwatch("feeds", "check", str(tmp_path / "nope.xml"))
    assert missing.returncode == 2 and "neither an http(s) URL nor an existing file" in missing.stderr
