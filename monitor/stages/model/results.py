"""What the engine returns for one text, in a module without torch.

Why apart from :mod:`monitor.stages.model.engine`: the worker scores in a child process
(:mod:`monitor.stages.model.process_engine`) and only needs this type in its own process; importing the engine
would load torch (some 2 s and 200 MB) into a process that never runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ScoredText:
    """One text's topic and sentiment. ``score = p_pos - p_neg``; ``truncated``: the text exceeded max_tokens."""

    topic: str
    topic_p: float
    sentiment: str
    score: float
    p_pos: float
    p_neu: float
    p_neg: float
    truncated: bool

    def topic_fields(self) -> dict[str, Any]:
        """Keyword arguments of the ``TopicScore`` contract."""
        return {"label": self.topic, "p": self.topic_p}

    def sentiment_fields(self) -> dict[str, Any]:
        """Keyword arguments of the ``SentimentScore`` contract."""
        return {"label": self.sentiment, "score": self.score, "p_pos": self.p_pos, "p_neu": self.p_neu,
                "p_neg": self.p_neg}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
