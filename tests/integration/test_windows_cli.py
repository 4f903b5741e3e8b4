"""``bearwatch windows show`` and ``bearwatch top`` against a real Valkey."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import typer
from typer.testing import CliRunner

from monitor.stages.windows.cli import register
from tests.support import windows_fixtures
from tests.support.windows_fixtures import scored

make_store = windows_fixtures.make_store  # the fixture, shared with the alerts tests


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """bearwatch"""

    register(app)
    return app


async def _invoke(args: list[str], env: dict[str, str]):
    # The CLI runs its own event loop, so it is invoked from a thread, as a user's shell would.
    return await asyncio.to_thread(CliRunner().invoke, _app(), args, env=env)


async def test_windows_show_and_top_print_the_numbers(make_store, stack, unique: str) -> None:
    store = make_store()
    await store.apply(
        [scored(f"a{i}", timedelta(minutes=i), "negative", title=f"Apple slides {i}") for i in range(4)]
        + [scored("a9", timedelta(minutes=5), "positive")]
        + [scored(f"m{i}", timedelta(minutes=i), "positive", tickers=("MSFT",)) for i in range(3)]
        + [scored("late-push", timedelta(minutes=30), "neutral", tickers=())]
    )
    env = {"BEARWATCH_REDIS_URL": stack.redis_url, "BEARWATCH_REDIS_NAMESPACE": f"test{unique}"}
    shown = await _invoke(["windows", "show", "--scope", "ticker", "--key", "AAPL", "--span", "1h"], env)
    assert shown.exit_code == 0, shown.output
    assert "Apple slides" in shown.output and "80%" in shown.output
    as_json = await _invoke(
        ["windows", "show", "--key", "AAPL", "--span", "15m", "--at", "2024-05-01T09:15:00Z", "--json"], env
    )
    data = json.loads(as_json.output)
    assert (data["count"], data["negative"], data["positive"]) == (5, 4, 1)
    ranked = await _invoke(
        ["top", "--scope", "ticker", "--span", "15m", "--at", "2024-05-01T09:15:00Z", "--json"], env
    )
    assert [row["key"] for row in json.loads(ranked.output)] == ["AAPL", "MSFT"]
    help_text = await _invoke(["top", "--help"], env)
    assert "bearwatch top --scope topic --span 15m" in help_text.output


async def test_cli_says_clearly_when_redis_is_not_configured_or_input_is_bad(stack) -> None:
    unset = await _invoke(["windows", "show", "--key", "AAPL"], {"BEARWATCH_REDIS_URL": ""})
    assert unset.exit_code == 2 and "BEARWATCH_REDIS_URL" in unset.output
    bad_scope = await _invoke(["top", "--scope", "planet"], {"BEARWATCH_REDIS_URL": stack.redis_url})
    assert bad_scope.exit_code == 2 and "use one of market, topic, ticker, source" in bad_scope.output
    bad_span = await _invoke(["top", "--span", "soon"], {"BEARWATCH_REDIS_URL": stack.redis_url})
    assert bad_span.exit_code == 2 and "span 'soon' is not understood" in bad_span.output
