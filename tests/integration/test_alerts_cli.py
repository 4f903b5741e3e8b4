"""``bearwatch alerts ...`` and ``bearwatch rules check`` against a real Valkey and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from alerts.delivery import DeliveryPolicy, Notifier
from alerts.lifecycle import Change, KeyState
from alerts.state import AlertState
from tests.support import alerts_fixtures
from tests.support.alerts_fixtures import VALID, cli_app, make_alert

receiver = alerts_fixtures.receiver
_app = cli_app


async def _invoke(args: list[str], env: dict[str, str] | None = None):
    # The CLI runs its own event loop, so it is invoked from a thread, as a user's shell would; a wide console
    # keeps table cells on one line.
    from monitor.ground.cli_support import console

    width = console.width
    console.width = 250
    try:
        return await asyncio.to_thread(CliRunner().invoke, _app(), args, env=env or {})
    finally:
        console.width = width


def _env(stack, unique: str, url: str) -> dict[str, str]:
    hooks = [{"name": "ops", "kind": "alertmanager", "url": url, "secret": "x", "timeout_s": 2}]
    return {
        "BEARWATCH_REDIS_URL": stack.redis_url,
        "BEARWATCH_REDIS_NAMESPACE": f"test{unique}",
        "BEARWATCH_WEBHOOKS": json.dumps(hooks),
    }


async def test_rules_check_accepts_a_valid_file_and_names_the_problem_in_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(VALID)
    ok = await _invoke(["rules", "check", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "chips" in ok.output and "ticker_negative_burst" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text(VALID.replace('window = "30m"', 'window = "half an hour"'))
    failed = await _invoke(["rules", "check", str(bad)])
    assert failed.exit_code == 1
    assert "rule 'chips': field 'window'" in " ".join(failed.output.split())


async def test_alerts_test_sends_a_sample_to_the_named_channel(receiver, stack, unique: str) -> None:
    env = _env(stack, unique, receiver.url)
    sent = await _invoke(["alerts", "test", "--channel", "ops"], env)
    assert sent.exit_code == 0, sent.output
    assert receiver.requests[0].json()["alerts"][0]["labels"]["alertname"] == "bearwatch_test"
    unknown = await _invoke(["alerts", "test", "--channel", "nope"], env)
    assert unknown.exit_code == 2 and "no channel named 'nope'" in unknown.output
    receiver.behaviour = lambda i: (400, 0.0, {})
    rejected = await _invoke(["alerts", "test", "--channel", "ops"], env)
    assert rejected.exit_code == 1 and "HTTP 400: bad payload" in rejected.output


async def test_dead_letters_are_listed_and_retried(
    receiver, stack, make_settings, redis_client, unique
) -> None:
    env = _env(stack, unique, receiver.url)
    receiver.behaviour = lambda i: (400, 0.0, {})
    settings = make_settings(webhooks=json.loads(env["BEARWATCH_WEBHOOKS"]))
    notifier = Notifier(redis_client, settings, f"test{unique}", policy=DeliveryPolicy(group_wait_s=0))
    await notifier.enqueue(make_alert())
    await notifier.drain_once()
    await notifier.close()
    listed = await _invoke(["alerts", "dead", "--json"], env)
    assert [(d["channel"], d["reason"]) for d in json.loads(listed.output)] == [
        ("ops", "HTTP 400: bad payload")
    ]
    receiver.behaviour = lambda i: (200, 0.0, {})
    retried = await _invoke(["alerts", "retry"], env)
    assert (
        retried.exit_code == 0 and "re-queued 1 notification(s); 1 request(s) finished now" in retried.output
    )
    assert len(receiver.delivered()) == 1
    assert json.loads((await _invoke(["alerts", "dead", "--json"], env)).output) == []


async def test_alerts_list_shows_what_is_firing_and_recent_notifications(
    stack, redis_client, unique: str
) -> None:
    state = AlertState(redis_client, f"test{unique}")
    alert = make_alert("spike", "NVDA")
    pipe = redis_client.pipeline(transaction=False)
    await state.queue_commit(
        pipe,
        token="",
        state=KeyState(state="firing", starts_at=1_714_554_000, last_notify=1_714_554_000, last_eval=1_714_554_000),
        changes=[Change(1_714_554_000, "fire", 1_714_554_000)],
        fingerprint=alert.fingerprint,
        rule="spike",
        scope="ticker",
        key="NVDA",
        value=0.8,
    )
    assert (await pipe.execute())[0] in (b"ok", "ok")
    env = {"BEARWATCH_REDIS_URL": stack.redis_url, "BEARWATCH_REDIS_NAMESPACE": f"test{unique}"}
    from alerts.delivery.outbox import Outbox

    await Outbox(redis_client, f"test{unique}").put(
        alert.model_dump_json(), "n1", "spike|firing", alert.fingerprint, []
    )
    shown = await _invoke(["alerts", "list", "--json"], env)
    data = json.loads(shown.output)
    assert [(f["rule"], f["key"], f["state"]) for f in data["firing"]] == [("spike", "NVDA", "firing")]
    assert [a["key"] for a in data["recent"]] == ["NVDA"]
    table = await _invoke(["alerts", "list"], env)
    assert table.exit_code == 0 and "NVDA" in table.output and "firing now (1)" in table.output
