"""The feed registry: which feeds to poll, how often, how politely, and how to read JSON APIs.

It is a TOML file (``settings.feeds_file``; default: the shipped ``consumers/feeds.toml``) rather than Python, so
operators add a feed without a release. Secrets never live in it: ``${VAR}`` in a URL or header value is read
from the environment at load time, and a feed whose variable is unset is skipped with one warning instead of
polling an endpoint that would only answer 401. Engine knobs (timeouts, body limit, backoff, dedup windows) sit in
the same file under ``[engine]`` so one file describes the whole ingest behaviour.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor.ground.errors import BearwatchError
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_FEEDS_FILE = Path(__file__).with_name("feeds.toml")
FeedKind = Literal["auto", "rss", "atom", "json-api", "sec-edgar"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RegistryError(ValueError, BearwatchError):
    """The feed registry cannot be used; the message names the file and the bad entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JsonMapping(_Strict):
    """Where a JSON news API keeps its items and fields. Paths are dotted; ``a[].b`` maps over a list."""

    items: str = "items"
    title: str = "title"
    link: str = "url"
    date: str = "published_at"
    summary: str | None = "summary"
    id: str | None = "id"
    tickers: str | None = None
    lang: str | None = None
    date_format: str | None = Field(default=None, description="strptime format when the API's dates are odd")


class EngineConfig(_Strict):
    """Polling and de-duplication knobs shared by every feed."""

    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=15.0, gt=0)
    total_timeout_s: float = Field(default=45.0, gt=0, description="whole request, so a trickling body ends")
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0)
    max_connections: int = Field(default=50, ge=1)
    conditional_get: bool = True
    backoff_base_s: float = Field(default=10.0, gt=0)
    backoff_max_s: float = Field(default=1800.0, gt=0)
    retry_after_max_s: float = Field(default=3600.0, gt=0)
    unhealthy_after: int = Field(default=5, ge=1, description="consecutive failures before a feed is unhealthy")
    unhealthy_probe_s: float = Field(default=1800.0, gt=0, description="poll interval of an unhealthy feed")
    thread_parse_bytes: int = Field(default=65_536, ge=0, description="bodies larger than this parse in a thread")
    future_tolerance_s: float = Field(default=900.0, ge=0)
    seen_ttl_s: int = Field(default=30 * 86400, ge=60)
    near_dup_window_s: int = Field(default=2 * 86400, ge=60)
    near_dup_threshold: float = Field(default=0.5, gt=0, le=1)
    produce_queue: int = Field(default=2000, ge=1, description="stories waiting for the broker, at most")
    delivery_timeout_s: float = Field(default=30.0, gt=0)


class HostPolicy(_Strict):
    """Politeness towards one host: requests in flight at once and the minimum gap between request starts."""

    min_gap_s: float = Field(default=1.0, ge=0)
    max_in_flight: int = Field(default=1, ge=1)


class FeedConfig(_Strict):
    """One feed. ``name`` is its stable key (metrics label, Redis health, Story.feed)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    url: str
    source: str = Field(min_length=1)
    kind: FeedKind = "auto"
    interval_s: float = Field(default=300.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    mapping: JsonMapping | None = None
    lang: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _http_url(self) -> FeedConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"feed {self.name!r}: url must start with http:// or https:// (got {self.url!r})")
        return self

    def resolved_url(self) -> str:
        return _substitute(self.url)

    def resolved_headers(self) -> dict[str, str]:
        return {key: _substitute(value) for key, value in self.headers.items()}

    def missing_env(self) -> list[str]:
        texts = [self.url, *self.headers.values()]
        return sorted({name for text in texts for name in _ENV_REF.findall(text) if name not in os.environ})


class Registry(_Strict):
    engine: EngineConfig = EngineConfig()
    host_default: HostPolicy = HostPolicy()
    hosts: dict[str, HostPolicy] = Field(default_factory=dict)
    feeds: list[FeedConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Registry:
        seen: set[str] = set()
        for feed in self.feeds:
            if feed.name in seen:
                raise ValueError(f"feed name {feed.name!r} is used twice")
            seen.add(feed.name)
        return self

    def active_feeds(self) -> list[FeedConfig]:
        """Enabled feeds whose ``${VAR}`` references are all set; the others are logged once and skipped."""
        active = []
        for feed in self.feeds:
            if not feed.enabled:
                continue
            missing = feed.missing_env()
            if missing:
                log.warning("feed %s skipped: environment variable(s) %s not set", feed.name, ", ".join(missing))
                continue
            active.append(feed)
        return active

    def host_policy(self, host: str) -> HostPolicy:
        """Policy for ``host[:port]``: an entry for host and port, else for the bare host, else the default."""
        return self.hosts.get(host) or self.hosts.get(host.rsplit(":", 1)[0]) or self.host_default


def _substitute(text: str) -> str:
    return _ENV_REF.sub(lambda match: os.environ.get(match.group(1), ""), text)


def parse_registry(text: str, origin: str = "<string>") -> Registry:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"feed registry {origin} is not valid TOML: {exc}") from exc
    raw["feeds"] = raw.pop("feed", raw.get("feeds", []))
    try:
        return Registry.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = first.get("msg", "invalid").removeprefix("Value error, ")
        raise RegistryError(f"feed registry {origin}: {where}: {message}") from None


def load_registry(settings: Settings) -> Registry:
    """Read ``settings.feeds_file`` (or the shipped default list)."""
    path = settings.feeds_file or DEFAULT_FEEDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"feed registry {path} cannot be read ({exc.strerror}): set BEARWATCH_FEEDS_FILE") from exc
    return parse_registry(text, str(path))
