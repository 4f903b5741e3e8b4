"""The feed registry: the shipped list loads, secrets come from the environment, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.registry import RegistryError, load_registry, parse_registry
from monitor.ground.settings import load_settings


def test_shipped_registry_has_twenty_real_feeds_of_every_kind() -> None:
    registry = load_registry(load_settings())
    assert len(registry.feeds) >= 20
    kinds = {feed.kind for feed in registry.feeds}
    assert {"auto", "sec-edgar", "json-api"} <= kinds
    assert all(feed.url.startswith("https://") for feed in registry.feeds)
    assert registry.host_policy("www.sec.gov").min_gap_s == 0.2
    assert registry.host_policy("example.com") == registry.host_default


def test_feed_with_unset_secret_is_skipped_and_set_secret_is_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    text = """
[[feed]]
name = "api"
source = "API"
kind = "json-api"
url = "https://api.example/news?key=${BW_TEST_KEY}"
headers = { Authorization = "Bearer ${BW_TEST_TOKEN}" }
"""
    monkeypatch.delenv("BW_TEST_KEY", raising=False)
    monkeypatch.delenv("BW_TEST_TOKEN", raising=False)
    registry = parse_registry(text)
    assert registry.active_feeds() == [] and registry.feeds[0].missing_env() == ["BW_TEST_KEY", "BW_TEST_TOKEN"]
    monkeypatch.setenv("BW_TEST_KEY", "k1")
    monkeypatch.setenv("BW_TEST_TOKEN", "t1")
    feed = parse_registry(text).active_feeds()[0]
    assert feed.resolved_url() == "https://api.example/news?key=k1"
    assert feed.resolved_headers() == {"Authorization": "Bearer t1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[feed]]\nname = 'a'\nsource = 'A'\nurl = 'ftp://x'\n", "must start with http"),
        ("[[feed]]\nname = 'a'\nsource = 'A'\nurl = 'https://x'\n[[feed]]\nname = 'a'\nsource = 'B'\nurl = 'https://y'\n",
         "used twice"),
        ("[[feed]]\nname = 'a'\nsource = 'A'\nurl = 'https://x'\ninterval = 5\n", "interval"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_registry_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry(text, "feeds.toml")


def test_missing_registry_file_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="BEARWATCH_FEEDS_FILE"):
        load_registry(load_settings(feeds_file=tmp_path / "nope.toml"))
