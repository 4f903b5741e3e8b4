"""De-duplication against the real Redis: exact ids, near-duplicate clusters with falling novelty, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis

from consumers.dedup import Deduplicator
from consumers.entries import RawEntry
from consumers.normalise import EntryContext, normalise_entry
from monitor.ground.contracts import Story

FETCHED = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _story(source: str, title: str, link: str) -> Story:
    context = EntryContext(source=source, feed=source.lower(), fetched_at=FETCHED)
    return normalise_entry(RawEntry(title=title, link=link, date_text="Wed, 01 May 2024 11:00:00 GMT"), context)


async def test_same_headline_from_three_feeds_forms_one_cluster_with_falling_novelty(
    redis_client: aioredis.Redis, unique: str
) -> None:
    dedup = Deduplicator(redis_client, f"test{unique}")
    wire = _story("Wire", "Apple shares fall 5% after weak iPhone sales", "https://wire.example/apple-1")
    syndicated = _story(
        "Portal", "UPDATE 1-Apple shares fall 5 pct after weak iPhone sales - Wire", "https://portal.example/a/9"
    )
    retitled = _story("Blog", "Apple shares fall 5% after weaker iPhone sales", "https://blog.example/apple")
    unrelated = _story("Wire", "Oil prices climb as OPEC extends output cuts", "https://wire.example/oil")
    results = []
    for story in (wire, syndicated, retitled, unrelated):
        results.extend((await dedup.admit([story])).stories)
    first, second, third, other = results
    assert first.cluster == second.cluster == third.cluster == wire.id
    assert [first.novelty, second.novelty, third.novelty] == [1.0, 0.5, 1 / 3]
    assert other.cluster == unrelated.id and other.novelty == 1.0


async def test_cluster_assignment_is_idempotent_by_story_id(redis_client: aioredis.Redis, unique: str) -> None:
    """A story re-sent after a crash keeps the cluster and novelty it got the first time."""
    first_run = Deduplicator(redis_client, f"test{unique}")
    lead = _story("Wire", "Bank of Japan surprises markets with rate hike", "https://wire.example/boj")
    copy = _story("Portal", "Bank of Japan surprises markets with a rate hike", "https://portal.example/boj")
    await first_run.admit([lead])
    before = (await first_run.admit([copy])).stories[0]
    after_restart = Deduplicator(redis_client, f"test{unique}")  # nothing was marked seen: both come back
    again = (await after_restart.admit([lead, copy])).stories
    assert [story.novelty for story in again] == [1.0, before.novelty] == [1.0, 0.5]
    assert again[1].cluster == before.cluster == lead.id


async def test_ids_count_as_seen_only_after_mark_seen(redis_client: aioredis.Redis, unique: str) -> None:
    dedup = Deduplicator(redis_client, f"test{unique}", seen_ttl_s=3600)
    story = _story("Wire", "Treasury yields hit 16-year high on strong jobs data", "https://wire.example/ust")
    admitted = await dedup.admit([story, story])
    assert len(admitted.stories) == 1 and len(admitted.duplicates) == 1  # twice in one batch
    assert (await dedup.admit([story])).duplicates == [story]  # pending in this process
    other_process = Deduplicator(redis_client, f"test{unique}")
    assert await other_process.seen([story.id]) == set()  # not acknowledged yet: not seen elsewhere
    await dedup.mark_seen([story.id])
    assert await other_process.seen([story.id]) == {story.id}
    assert 3500 < await redis_client.ttl(f"test{unique}:ingest:seen:{story.id}") <= 3600


async def test_updated_entry_with_the_same_id_is_not_a_new_story(redis_client: aioredis.Redis, unique: str) -> None:
    dedup = Deduplicator(redis_client, f"test{unique}")
    original = _story("Wire", "Boeing shares slide on delivery delays", "https://wire.example/ba")
    await dedup.mark_seen([(await dedup.admit([original])).stories[0].id])
    updated = _story("Wire", "Boeing shares slide 8% on delivery delays, CEO to testify", "https://wire.example/ba")
    assert updated.id == original.id
    assert (await dedup.admit([updated])).duplicates == [updated]


async def test_short_titles_are_never_near_duplicates(redis_client: aioredis.Redis, unique: str) -> None:
    dedup = Deduplicator(redis_client, f"test{unique}")
    one = (await dedup.admit([_story("A", "Markets wrap", "https://a.example/1")])).stories[0]
    two = (await dedup.admit([_story("B", "Markets wrap", "https://b.example/1")])).stories[0]
    assert one.cluster != two.cluster and two.novelty == 1.0
