"""The one settings object for every Bearwatch process.

Values come, highest priority first, from keyword arguments, ``BEARWATCH_*`` environment variables, an optional
TOML file (``--config``), then the defaults below. Nested tables use ``__`` in env vars
(``BEARWATCH_WEBHOOKS='[...]'`` takes JSON). A bad value stops start-up with one line that names the setting:
``load_settings`` turns pydantic's report into :class:`SettingsError`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "default"


class SettingsError(ValueError):
    """A setting is missing or invalid; ``str()`` is one line naming the setting and the fix."""


class TopicNames(BaseModel):
    """Kafka topic names of the four pipeline stages (architecture brief, section 1)."""

    raw: str = "bearwatch.news.raw"
    scored: str = "bearwatch.news.scored"
    alerts: str = "bearwatch.alerts"
    deadletter: str = "bearwatch.deadletter"

    def all(self) -> list[str]:
        return [self.raw, self.scored, self.alerts, self.deadletter]


class WebhookTarget(BaseModel):
    """One alert delivery channel."""

    name: str
    kind: Literal["alertmanager", "slack", "teams"] = "alertmanager"
    url: str
    secret: str | None = Field(default=None, description="HMAC-SHA256 shared secret for the signature header")
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        return value


class Settings(BaseSettings):
    """Every knob of Bearwatch. Env var = ``BEARWATCH_`` + the field name in upper case."""

    model_config = SettingsConfigDict(
        env_prefix="BEARWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    # --- infrastructure: unset means "start the embedded one" ---
    kafka_url: str | None = Field(default=None, description="bootstrap servers, e.g. localhost:9092")
    redis_url: str | None = Field(default=None, description="e.g. redis://localhost:6379/0")
    var_dir: Path = Field(default=Path("var"), description="data and logs of the embedded stack")
    embedded_redis_persist: bool = Field(
        default=True, description="embedded Valkey keeps an append-only file under var_dir/valkey (fsync every "
        "second), so windows, seen ids and the alert outbox survive a restart; false = memory only")
    topics: TopicNames = TopicNames()
    topic_partitions: int = Field(default=4, ge=1, le=256)
    topic_replication: int = Field(default=1, ge=1, le=5)
    redis_namespace: str = Field(default="bw", pattern=r"^[A-Za-z0-9_.:-]+$")

    # --- model and micro-batching ---
    model_path: Path = DEFAULT_MODEL_PATH
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(default=32, ge=1, le=4096)
    batch_max_wait_s: float = Field(default=0.5, gt=0, le=60)
    max_tokens: int = Field(default=64, ge=8, le=512)
    cpu_threads: int = Field(default=0, ge=0, description="0 = torch default")
    int8: bool = Field(default=True,
                       description="dynamic int8 quantisation on CPU (ignored on CUDA): ~2x faster, within 1 point")

    # --- windows ---
    bucket_seconds: int = Field(default=60, ge=1)
    allowed_lateness_s: int = Field(default=300, ge=0)

    # --- consumers ---
    feeds_file: Path | None = Field(default=None, description="TOML feed registry; default: the shipped list")
    watchlist_file: Path | None = None
    user_agent: str = "Bearwatch/0.1 (+https://github.com/bearwatch/bearwatch)"

    # --- alerts ---
    rules_file: Path | None = Field(default=None, description="TOML rules; default: the shipped rules")
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    alert_max_attempts: int = Field(default=20, ge=1, le=1000, description="delivery attempts before dead letter")
    alert_backoff_base_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles per attempt")
    alert_backoff_max_s: float = Field(default=300.0, gt=0, description="cap of the retry delay")
    alert_group_wait_s: float = Field(default=5.0, ge=0, description="how long alerts of one rule wait to be grouped")

    # --- observability ---
    grafana_url: str | None = None
    grafana_token: str | None = None
    prometheus_url: str | None = None
    gauge_top_tickers: int = Field(
        default=50, ge=0, le=1000,
        description="tickers exported as Prometheus gauges: the top N by news volume (bounds label cardinality)")
    gauge_refresh_s: float = Field(default=10.0, gt=0, le=3600,
                                   description="how often the worker re-reads the sentiment gauges from Redis")

    # --- ports (all bound to http_host) ---
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535, description="bearwatch up: /health")
    worker_port: int = Field(default=6066, ge=0, le=65535, description="Faust worker web server, /metrics")
    ingest_port: int = Field(default=9108, ge=0, le=65535, description="consumers' /metrics")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("kafka_url")
    @classmethod
    def _kafka_bootstrap(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        stripped = value.removeprefix("kafka://")
        for server in stripped.split(","):
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port] (got {value!r})")
        return stripped

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"expected redis://host:port/db (got {value!r})")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if _toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_toml_path))
        return tuple(sources)


_toml_path: Path | None = None


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    field = "__".join(loc) if loc else "settings"
    env = "BEARWATCH_" + field.upper()
    got = error.get("input")
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    shown = "" if isinstance(got, dict | list) or "(got " in message else f" (got {got!r})"
    if error.get("type") == "extra_forbidden":
        return f"setting {field!r} is unknown: remove it or check its spelling"
    return f"setting {env} is invalid: {message}{shown}"


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, raising :class:`SettingsError` with one clear line on any bad value."""
    global _toml_path
    if config is not None:
        if not config.is_file():
            raise SettingsError(f"settings file {config} does not exist: pass an existing TOML file to --config")
        try:
            tomllib.loads(config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {config} is not valid TOML: {exc}") from exc
    _toml_path = config
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise SettingsError(_describe(first) + suffix) from None
    finally:
        _toml_path = None
