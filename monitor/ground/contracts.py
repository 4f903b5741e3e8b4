"""Message contracts between the pipeline stages (architecture brief, section 3), versioned with ``"v": 1``.

Every Kafka payload in Bearwatch is one of these models as UTF-8 JSON. Decoding never lets a malformed message
through half-read: :func:`decode` raises :class:`SchemaError`, which names the offending field, so the stream
agents can dead-letter it with a precise reason and go on.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Final, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from monitor.ground.errors import BearwatchError

SCHEMA_VERSION: Final = 1

SentimentLabel = Literal["negative", "neutral", "positive"]
Scope = Literal["market", "topic", "ticker", "source", "entity"]


def _utc(value: datetime) -> datetime:
    """Event times are always timezone-aware UTC; a naive time is a producer bug, not something to guess."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (RFC 3339, e.g. 2024-05-01T12:00:00Z)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class SchemaError(ValueError, BearwatchError):
    """A message does not match its contract. ``field`` is the dotted path of the first bad field."""

    def __init__(self, model: str, field: str, reason: str) -> None:
        self.model = model
        self.field = field
        self.reason = reason
        super().__init__(f"malformed {model}: field {field!r}: {reason}")


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = SCHEMA_VERSION


class Story(_Message):
    """A normalised news item, as produced to ``bearwatch.news.raw`` (key = ``id``)."""

    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1)
    feed: str = ""
    url: str = ""
    title: str
    summary: str = ""
    published_at: UtcDatetime
    fetched_at: UtcDatetime
    tickers: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list, max_length=16,
                                description="organisation names (entity-scope keys), e.g. 'silicon valley bank'")
    lang: str | None = Field(default=None, description="detected language; only English counts in the windows")
    cluster: str | None = None
    novelty: float = Field(default=1.0, ge=0.0, le=1.0)
    flags: list[str] = Field(default_factory=list, description="e.g. no_date, future_date_clamped")

    @property
    def text(self) -> str:
        """What the model reads: title and summary."""
        return f"{self.title}. {self.summary}" if self.summary else self.title


class TopicScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    p: float = Field(ge=0.0, le=1.0)


class SentimentScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: SentimentLabel
    score: float = Field(ge=-1.0, le=1.0, description="p_pos - p_neg")
    p_pos: float = Field(ge=0.0, le=1.0)
    p_neu: float = Field(ge=0.0, le=1.0)
    p_neg: float = Field(ge=0.0, le=1.0)


class ModelInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str


class ScoredStory(Story):
    """A Story with the model's topic and sentiment, as produced to ``bearwatch.news.scored``."""

    topic: TopicScore
    sentiment: SentimentScore
    model: ModelInfo


class Sample(BaseModel):
    """A headline that made an alert fire."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    url: str = ""
    score: float = 0.0
    published_at: UtcDatetime | None = None


class Alert(_Message):
    """One alert state change, as produced to ``bearwatch.alerts`` (key = ``fingerprint``)."""

    fingerprint: str = Field(min_length=1)
    status: Literal["firing", "resolved"]
    rule: str
    scope: Scope
    key: str
    severity: str = "warning"
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    value: float
    baseline: float | None = None
    zscore: float | None = None
    count: float = 0.0
    samples: list[Sample] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


def alert_fingerprint(rule: str, scope: str, key: str) -> str:
    """Stable id of an alert series: the same rule, scope and key always give the same fingerprint."""
    return hashlib.sha256(f"{rule}\x1f{scope}\x1f{key}".encode()).hexdigest()[:16]


M = TypeVar("M", bound=_Message)


def encode(message: _Message) -> bytes:
    """Serialise a contract message to compact UTF-8 JSON."""
    return message.model_dump_json(exclude_none=False).encode("utf-8")


def decode(model: type[M], payload: bytes | str) -> M:
    """Parse and validate ``payload`` as ``model``; raise :class:`SchemaError` naming the first bad field."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first.get("loc", ())) or "<message>"
        if first.get("type") == "json_invalid":
            loc = "<json>"
        raise SchemaError(model.__name__, loc, first.get("msg", "invalid")) from None


def now_utc() -> datetime:
    return datetime.now(UTC)
