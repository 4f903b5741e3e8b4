"""Message contracts: round trips and typed errors that name the bad field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.ground.contracts import Alert, SchemaError, Story, alert_fingerprint, decode, encode


def _story(**changes: object) -> Story:
    base = dict(
        id="abc", source="reuters", title="Stocks fall", published_at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        fetched_at=datetime(2024, 5, 1, 12, 1, tzinfo=UTC), tickers=["AAPL"],
    )
    base.update(changes)
    return Story(**base)


def test_story_round_trips_through_json() -> None:
    story = _story(summary="Markets slide", novelty=0.5, cluster="c1")
    assert decode(Story, encode(story)) == story
    assert b'"v":1' in encode(story)


def test_event_time_is_normalised_to_utc() -> None:
    story = _story(published_at=datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))))
    assert story.published_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "<json>"),
        (b'{"v":1,"source":"x","title":"t","published_at":"2024-01-01T00:00:00Z",'
         b'"fetched_at":"2024-01-01T00:00:00Z"}', "id"),
        (b'{"v":2,"id":"a","source":"x","title":"t","published_at":"2024-01-01T00:00:00Z",'
         b'"fetched_at":"2024-01-01T00:00:00Z"}', "v"),
        (b'{"v":1,"id":"a","source":"x","title":"t","published_at":"2024-01-01T00:00:00",'
         b'"fetched_at":"2024-01-01T00:00:00Z"}', "published_at"),
        (b'{"v":1,"id":"a","source":"x","title":"t","published_at":"2024-01-01T00:00:00Z",'
         b'"fetched_at":"2024-01-01T00:00:00Z","novelty":3}', "novelty"),
    ],
)
def test_malformed_story_raises_typed_error_naming_the_field(payload: bytes, field: str) -> None:
    with pytest.raises(SchemaError) as caught:
        decode(Story, payload)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_alert_fingerprint_is_stable_and_distinct() -> None:
    assert alert_fingerprint("spike", "ticker", "AAPL") == alert_fingerprint("spike", "ticker", "AAPL")
    assert alert_fingerprint("spike", "ticker", "AAPL") != alert_fingerprint("spike", "ticker", "MSFT")
    alert = Alert(
        fingerprint=alert_fingerprint("spike", "ticker", "AAPL"), status="firing", rule="spike", scope="ticker",
        key="AAPL", starts_at=datetime(2024, 5, 1, tzinfo=UTC), value=0.8,
    )
    assert decode(Alert, encode(alert)) == alert
