"""The ``entity`` scope and the language gate of the windows, in a real Valkey."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY

from monitor.ground.contracts import ScoredStory
from monitor.history.index import SentimentIndex
from monitor.stages.windows.writer import scope_keys
from tests.support import windows_fixtures
from tests.support.windows_fixtures import T0, scored

make_store = windows_fixtures.make_store


def story(story_id: str, minutes: float, *, entities: tuple[str, ...] = (), lang: str | None = None,
          label: str = "negative") -> ScoredStory:
    base = scored(story_id, timedelta(minutes=minutes), label, tickers=())
    return base.model_copy(update={"entities": list(entities), "lang": lang})


def non_english_total() -> float:
    return REGISTRY.get_sample_value("bearwatch_windows_non_english_stories_total") or 0.0


def test_scope_keys_add_each_entity_once_and_nothing_for_non_english_stories() -> None:
    keys = scope_keys(story("a", 0, entities=("silicon valley bank", "Silicon  Valley Bank", "first republic")))
    assert [k for k in keys if k[0] == "entity"] == [("entity", "silicon valley bank"), ("entity", "first republic")]
    assert scope_keys(story("b", 0, entities=("x" * 65,))) == scope_keys(story("c", 0))  # over-long key refused
    assert scope_keys(story("d", 0, lang="pl")) == []
    assert ("market", "all") in scope_keys(story("e", 0, lang="en-us"))
    assert ("market", "all") in scope_keys(story("f", 0, lang=None))  # unknown language counts


async def test_entity_windows_count_like_any_scope_and_show_up_in_top(make_store) -> None:
    store = make_store()
    stories = [story(f"svb{i}", i, entities=("silicon valley bank",)) for i in range(6)]
    stories += [story("other", 1, entities=("acme capital",), label="positive")]
    await store.apply(stories)
    at = T0 + timedelta(minutes=30)
    stats = await store.window("entity", "silicon valley bank", "1h", at)
    assert stats.count == 6 and stats.negative == 6
    ranked = await store.top("entity", "1h", at=at, min_volume=3)
    assert [key for key, _ in ranked] == ["silicon valley bank"]
    assert set(await store.keys_seen("entity")) == {"silicon valley bank", "acme capital"}


async def test_non_english_stories_stay_out_of_every_window_and_are_counted_in_a_metric(make_store) -> None:
    store = make_store()
    before = non_english_total()
    result = await store.apply([story("en", 0), story("pl", 1, lang="pl"), story("de", 2, lang="de-DE")])
    assert result.applied == 1 and result.non_english == 2
    assert non_english_total() - before == 2
    market = await store.window("market", "all", "1h", T0 + timedelta(minutes=30))
    assert market.count == 1
    only_foreign = await store.apply([story("pl2", 3, lang="pl")])
    assert only_foreign.applied == 0 and only_foreign.non_english == 1 and only_foreign.watermark is not None
    assert await store.redis.exists(store.keys.seen("pl2"))  # processed (a replay waits for this), counted nowhere
    assert [row["id"] for row in await store.recent(10)] == ["en"]
    again = await store.apply([story("pl2", 3, lang="pl")])
    assert again.duplicates == 1 and again.non_english == 0


async def test_entity_keys_are_capped_to_the_most_recently_seen(make_store) -> None:
    store = make_store(entity_max_keys=100)
    await store.apply([story(f"s{i}", i, entities=(f"company {i} bank",)) for i in range(150)])
    seen = await store.keys_seen("entity")
    assert len(seen) == 100
    assert "company 149 bank" in seen and "company 0 bank" not in seen


async def test_keys_idle_longer_than_the_retention_are_forgotten(make_store) -> None:
    store = make_store(retention_s=3600)
    await store.apply([story("old", 0, entities=("old bank",))])
    await store.apply([story("new", 180, entities=("new bank",))])
    assert set(await store.keys_seen("entity")) == {"new bank"}


def test_backtest_index_counts_entities_only_where_the_windows_do() -> None:
    index = SentimentIndex()
    index.add([story("a", 0, entities=("silicon valley bank",)), story("b", 0, lang="pl")])
    rows = index.rows()
    assert sum(row["count"] for row in rows if row["scope"] == "market") == 1


async def test_windows_show_and_top_read_the_entity_scope(make_store, stack, unique: str) -> None:
    import asyncio
    import json

    import typer
    from typer.testing import CliRunner

    from monitor.stages.windows.cli import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """bearwatch"""

    register(app)
    store = make_store()
    await store.apply([story(f"svb{i}", i, entities=("silicon valley bank",)) for i in range(5)])
    env = {"BEARWATCH_REDIS_URL": stack.redis_url, "BEARWATCH_REDIS_NAMESPACE": f"test{unique}"}
    args = ["windows", "show", "--scope", "entity", "--key", "silicon valley bank", "--span", "1h",
            "--at", "2024-05-01T09:30:00Z", "--json"]
    shown = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
    assert shown.exit_code == 0, shown.output
    assert (json.loads(shown.output)["count"], json.loads(shown.output)["negative"]) == (5, 5)
    ranked = await asyncio.to_thread(CliRunner().invoke, app, ["top", "--scope", "entity", "--span", "1h", "--at",
                                                               "2024-05-01T09:30:00Z", "--json"], env=env)
    assert [row["key"] for row in json.loads(ranked.output)] == ["silicon valley bank"]
