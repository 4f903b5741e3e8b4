"""What a window read returns: exact integer sums of buckets, exposed as the numbers people ask for.

The raw bucket fields are integers (counts, and scores/novelty in millionths), summed exactly, so the same
data gives bit-identical statistics whatever order the stories arrived in; ratios are computed once at the
end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.ground.contracts import Sample
from monitor.stages.windows.layout import MICRO

FIELDS = ("n", "neg", "neu", "pos", "ss", "nv", "nvn", "nvs", "late")
METRICS = (
    "count",
    "volume",
    "negative",
    "neutral",
    "positive",
    "negative_share",
    "mean_score",
    "novelty_volume",
    "weighted_negative_share",
    "weighted_mean_score",
    "late",
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def sum_buckets(hashes: Iterable[Mapping[Any, Any]]) -> dict[str, int]:
    """Add bucket hashes (as HGETALL returns them, bytes or str) field by field."""
    total = dict.fromkeys(FIELDS, 0)
    for bucket in hashes:
        for name, value in bucket.items():
            name = _text(name)
            if name in total:
                total[name] += int(value)
    return total


def parse_sample(member: bytes | str) -> Sample:
    return Sample.model_validate(json.loads(_text(member)))


@dataclass(frozen=True)
class WindowStats:
    """Sentiment counts of one scope key over ``[at - span, at)`` in event time.

    ``negative_share`` and ``mean_score`` count every story once; the ``weighted_*`` variants and
    ``novelty_volume`` weight each story by its novelty, so one story syndicated by ten feeds counts about
    once.
    """

    scope: str
    key: str
    span: timedelta
    at: datetime
    count: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    late: int = 0
    score_sum_micro: int = 0
    novelty_micro: int = 0
    novelty_negative_micro: int = 0
    novelty_score_micro: int = 0
    samples: tuple[Sample, ...] = field(default=())

    @classmethod
    def from_sums(
        cls,
        scope: str,
        key: str,
        span: timedelta,
        at: datetime,
        sums: Mapping[str, int],
        samples: Iterable[Sample] = (),
    ) -> WindowStats:
        return cls(
            scope=scope,
            key=key,
            span=span,
            at=at,
            count=sums["n"],
            negative=sums["neg"],
            neutral=sums["neu"],
            positive=sums["pos"],
            late=sums["late"],
            score_sum_micro=sums["ss"],
            novelty_micro=sums["nv"],
            novelty_negative_micro=sums["nvn"],
            novelty_score_micro=sums["nvs"],
            samples=tuple(samples),
        )

    @property
    def start(self) -> datetime:
        return self.at - self.span

    @property
    def volume(self) -> int:
        return self.count

    @property
    def score_sum(self) -> float:
        return self.score_sum_micro / MICRO

    @property
    def negative_share(self) -> float:
        return self.negative / self.count if self.count else 0.0

    @property
    def mean_score(self) -> float:
        return self.score_sum_micro / self.count / MICRO if self.count else 0.0

    @property
    def novelty_volume(self) -> float:
        return self.novelty_micro / MICRO

    @property
    def weighted_negative_share(self) -> float:
        return self.novelty_negative_micro / self.novelty_micro if self.novelty_micro else 0.0

    @property
    def weighted_mean_score(self) -> float:
        return self.novelty_score_micro / self.novelty_micro if self.novelty_micro else 0.0

    def metric(self, name: str) -> float:
        """A named number (see ``METRICS``), e.g. for sorting in ``top()``."""
        if name not in METRICS:
            raise ValueError(f"unknown window metric {name!r}: use one of {', '.join(METRICS)}")
        return float(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers for the status page and the CLI."""
        return {
            "scope": self.scope,
            "key": self.key,
            "span_s": int(self.span.total_seconds()),
            "start": self.start.isoformat(),
            "at": self.at.isoformat(),
            **{name: self.metric(name) for name in METRICS},
            "samples": [sample.model_dump(mode="json") for sample in self.samples],
        }
