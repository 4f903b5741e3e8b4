"""The Kafka replay end to end on real parts (Tansu, Valkey, a real ``bearwatch worker`` with the shipped model)
against the in-process backtest: same alerts; a replay is idempotent per run id; run ids never mix.

The slice is the first 250 rows of the Terra/Luna file (written to tmp, never into the repo). The rules file
switches the shipped rules off and watches sources and the market over short windows (threshold rules and a
surprise rule), so that the real model's few negative headlines in the slice do fire alerts: the parity check is
not vacuous. The replay's worker evaluates on arrays read from Redis, the backtest on arrays built in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.ground.contracts import Alert
from monitor.ground.settings import Settings
from monitor.history.backtest_run import run_backtest
from monitor.history.kafka_completion import topic_records
from monitor.history.kafka_run import run_replay
from monitor.history.options import RunOptions
from monitor.history.run_names import RunNames
from monitor.stages.windows import WindowStore

pytestmark = pytest.mark.slow

TERRA = "headlines/2022-05-02_to_2022-05-20_TerraLuna.csv"
RULES = """
[[rule]]
name = "ticker_negative_burst"
enabled = false
scope = "ticker"
negative_share_above = 0.9
[[rule]]
name = "ticker_very_negative"
enabled = false
scope = "ticker"
negative_share_above = 0.9
[[rule]]
name = "topic_negative_surge"
enabled = false
scope = "topic"
negative_share_above = 0.9
[[rule]]
name = "market_negative_shift"
enabled = false
scope = "market"
negative_share_above = 0.9

[[rule]]
name = "replay_test_source"
scope = "source"
window = "20m"
min_volume = 1
negative_share_above = 0.5
cooldown = "0s"
severity = "info"

[[rule]]
name = "replay_test_surprise"
scope = "source"
windows = ["20m", "2h"]
baseline = "1d"
surprise_above = 1.0
test = "both"
min_negative = 1
min_volume = 1
cooldown = "0s"
severity = "info"

[[rule]]
name = "replay_test_market"
scope = "market"
window = "30m"
min_volume = 1
negative_share_above = 0.3
for = "5m"
severity = "warning"
"""


def slice_of(shared_data: Path, out: Path, rows: int) -> Path:
    with (shared_data / TERRA).open(encoding="utf-8") as handle:
        out.write_text("".join(next(handle) for _ in range(rows + 1)), encoding="utf-8")
    return out


async def records(settings: Settings, topic: str) -> int:
    return len(await topic_records(settings.kafka_url or "", topic))


def identity(alerts: list[Alert]) -> list[tuple[str, str, str, str]]:
    return sorted((a.fingerprint, a.status, a.starts_at.isoformat(), a.ends_at.isoformat() if a.ends_at else "")
                  for a in alerts)


async def market_count(redis: aioredis.Redis, namespace: str, at_end: object) -> int:
    stats = await WindowStore(redis, namespace).window("market", "all", "30d", at=at_end, samples=False)  # type: ignore[arg-type]
    return stats.count


async def test_kafka_replay_equals_backtest_and_runs_are_idempotent_and_separate(
    make_settings: Callable[..., Settings], redis_client: aioredis.Redis, shared_data: Path, tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = make_settings()
    data = slice_of(shared_data, tmp_path / "terra-250.csv", 250)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")

    replay = await run_replay(settings, RunOptions(path=data, run_id="parity", rules_file=rules,
                                                      out_dir=tmp_path / "replay"))
    backtest = await run_backtest(settings, RunOptions(
        path=data, run_id="parity-bt", rules_file=rules, out_dir=tmp_path / "backtest",
        cache_path=tmp_path_factory.getbasetemp() / "bearwatch-score-cache.sqlite"))

    assert replay.source.stories == backtest.source.stories == 250
    assert replay.produced == 250 and replay.dead_lettered == 0
    fired = [a for a in replay.alerts if a.status == "firing"]
    assert fired, "no alert fired on the slice: the parity check would be vacuous"
    assert {a.rule for a in fired} == {"replay_test_source", "replay_test_market", "replay_test_surprise"}
    assert identity(replay.alerts) == identity(backtest.alerts)
    assert [a.value for a in sorted(replay.alerts, key=lambda a: (a.starts_at, a.fingerprint, a.status))] == [
        a.value for a in sorted(backtest.alerts, key=lambda a: (a.starts_at, a.fingerprint, a.status))]
    assert (tmp_path / "replay" / "alerts.json").is_file()

    run = RunNames("parity", settings.redis_namespace)
    at_end = replay.source.last_event + timedelta(days=1)  # type: ignore[operator]
    counted = await market_count(redis_client, run.namespace, at_end)
    raw_end = await records(settings, run.topics.raw)
    english = 250 - replay.source.non_english  # the market window counts English stories only (1 Polish here)
    assert replay.source.non_english == 1
    assert counted == english and raw_end == 250

    again = await run_replay(settings, RunOptions(path=data, run_id="parity", rules_file=rules,
                                                     out_dir=tmp_path / "replay-again"))
    assert (again.produced, again.source.new, again.source.known) == (0, 0, 250)
    assert await market_count(redis_client, run.namespace, at_end) == english
    assert await records(settings, run.topics.raw) == 250
    assert identity(again.alerts) == identity(replay.alerts)

    small = slice_of(shared_data, tmp_path / "terra-60.csv", 60)
    other = await run_replay(settings, RunOptions(path=small, run_id="other", rules_file=rules,
                                                     out_dir=tmp_path / "other"))
    other_run = RunNames("other", settings.redis_namespace)
    assert other.namespace == other_run.namespace != run.namespace
    assert await market_count(redis_client, other_run.namespace, at_end) == 60 - other.source.non_english
    assert await market_count(redis_client, run.namespace, at_end) == english
    assert await records(settings, other_run.topics.raw) == 60
    assert await records(settings, run.topics.raw) == 250
    assert await market_count(redis_client, settings.redis_namespace, at_end) == 0  # nothing leaked into live
