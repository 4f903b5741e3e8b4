"""Synthetic news for the resilience harness: stories with known ids, event times and intended sentiment.

Why synthetic rather than a captured corpus: the books need to know every story's id before the system sees it
(the id is the one the consumers compute, from the canonical link), the event clock must run faster than the
wall clock so rolling windows close within a short test, and the sentiment must come in *episodes* so the
detector fires and resolves alerts at predictable times. Headlines carry a cashtag (unambiguous ticker link),
a sentiment phrase the shipped model reads reliably, and a random clause so no two headlines are near-duplicates
(MinHash would otherwise fold them into one cluster and their novelty-weighted volume would vanish).

Event time runs at ``speed`` event seconds per wall second from ``t0`` (in the past, so the consumers' clamp of
future dates never applies); each story gets its own millisecond so event order is total.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from consumers.normalise import story_id
from consumers.urls import canonical_url

TICKERS = ("AAPL", "MSFT", "JPM", "XOM", "NVDA", "TSLA")
NEGATIVE = (
    "shares plunge after profit warning", "slumps as regulators open fraud probe",
    "cuts guidance and stock tumbles", "sinks after data breach lawsuit", "downgraded to sell on weak demand",
    "misses estimates and shares slide", "warns of losses as sales collapse", "plunges on accounting scandal",
)
POSITIVE = (
    "shares jump after record quarterly profit", "raises dividend as sales beat forecasts",
    "wins major contract and stock rallies", "upgraded to buy on strong demand", "soars after earnings beat",
    "lifts outlook as margins widen",
)
NEUTRAL = (
    "to hold annual shareholder meeting", "names new chief financial officer", "schedules earnings call",
    "files quarterly report with regulator", "board meets to review strategy", "announces executive reshuffle",
)
_WORDS = (
    "Europe Asia Texas Ohio Berlin Tokyo shipping warehouse pension Tuesday Friday semiconductor fleet pipeline "
    "retail campus software licence refinery harbour factory satellite vaccine lithium tariff quarter aviation "
    "railway insurance consumer banking cloud energy mining grocery logistics freight turbine battery robotics "
    "payments streaming advertising wholesale farmland copper aluminium timber cotton coffee cocoa wheat"
).split()


@dataclass(frozen=True)
class NewsItem:
    """One entry a feed will carry; ``id`` is the Story id the consumers will compute for it."""

    id: str
    seq: int
    feed: str
    ticker: str | None
    mood: str  # negative | positive | neutral (intended; the model decides)
    title: str
    link: str
    guid: str
    summary: str
    published_at: datetime

    def rss_item(self) -> str:
        return (
            f"<item><title>{self.title}</title><link>{self.link}</link><guid>{self.guid}</guid>"
            f"<description>{self.summary}</description>"
            f"<pubDate>{format_datetime(self.published_at, usegmt=True)}</pubDate></item>"
        )


def rss_document(items: list[NewsItem], title: str) -> bytes:
    """An RSS 2.0 body, newest item first (as publishers order them)."""
    body = "".join(item.rss_item() for item in reversed(items))
    return (
        f"<?xml version='1.0' encoding='utf-8'?>\n<rss version='2.0'><channel><title>{title}</title>"
        f"<language>en-us</language>{body}</channel></rss>"
    ).encode()


class Newsroom:
    """Writes stories: event time from a fast clock, ticker round-robin, mood from each ticker's episode.

    A ticker is in a *bad-news episode* for ``episode_min`` event minutes out of every ``cycle`` episodes
    (staggered per ticker); inside one most of its headlines are negative, outside few are. With a rule such as
    "more than half negative over 5 minutes" every ticker fires and resolves once per cycle.
    """

    def __init__(self, t0: datetime, speed: float, *, seed: int = 1, episode_min: int = 6, cycle: int = 4,
                 base: str = "https://news.example") -> None:
        self.t0 = t0
        self.speed = speed
        self.episode_min = episode_min
        self.cycle = cycle
        self.base = base
        self._rng = random.Random(seed)
        self._seq = 0
        self._last_ms = 0

    def event_time(self, wall_elapsed_s: float) -> datetime:
        """The event time ``wall_elapsed_s`` after the start, strictly after every earlier story's."""
        ms = int(wall_elapsed_s * self.speed * 1000)
        self._last_ms = max(ms, self._last_ms + 1)
        return self.t0 + timedelta(milliseconds=self._last_ms)

    def mood(self, ticker_index: int, at: datetime) -> str:
        minute = int((at - self.t0).total_seconds() // 60)
        bad = (minute // self.episode_min + ticker_index) % self.cycle == 0
        roll = self._rng.random()
        if roll < (0.85 if bad else 0.15):
            return "negative"
        return "positive" if roll < (0.92 if bad else 0.6) else "neutral"

    def write(self, feed: str, source: str, wall_elapsed_s: float, ticker: bool = True) -> NewsItem:
        seq = self._seq
        self._seq += 1
        at = self.event_time(wall_elapsed_s)
        index = seq % len(TICKERS)
        symbol = TICKERS[index] if ticker else None
        mood = self.mood(index, at) if ticker else "neutral"
        phrase = self._rng.choice({"negative": NEGATIVE, "positive": POSITIVE, "neutral": NEUTRAL}[mood])
        clause = " ".join(self._rng.sample(_WORDS, 8))
        subject = f"${symbol}" if symbol else "Markets"
        title = f"{subject} {phrase}; {clause} update {seq}"
        link = f"{self.base}/{feed}/{seq}"
        guid = f"{feed}-{seq}"
        sid = story_id(canonical_url(link), guid, source, title, None)
        return NewsItem(sid, seq, feed, symbol, mood, title, link, guid, f"Report {seq} from {source}.", at)

    def marker(self, feed: str, source: str, at: datetime) -> NewsItem:
        """A neutral, ticker-less story at event time ``at``: moves the watermark (flushes the last windows)."""
        seq = self._seq
        self._seq += 1
        title = f"Markets close the session quietly; clock story {seq}"
        link = f"{self.base}/{feed}/{seq}"
        guid = f"{feed}-{seq}"
        sid = story_id(canonical_url(link), guid, source, title, None)
        return NewsItem(sid, seq, feed, None, "neutral", title, link, guid, "End of session.", at)


def default_t0(now: datetime | None = None) -> datetime:
    """Three days ago on a whole hour: far enough back that even a 30-minute soak at 60x stays in the past."""
    moment = (now or datetime.now(UTC)) - timedelta(days=3)
    return moment.replace(minute=0, second=0, microsecond=0)
