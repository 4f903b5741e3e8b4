"""Shared builders for the alerts tests: rules, story streams, a detector run in event time, alerts, and a
real HTTP receiver on loopback that records what it gets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import typer
from aiohttp import web

from alerts.cli import register
from alerts.detector import Detector
from alerts.rules import Rule, parse_rules
from monitor.ground.contracts import Alert, Sample, ScoredStory, alert_fingerprint
from monitor.stages.windows import WindowStore
from tests.support.ceilings import READY_CEILING_S
from tests.support.windows_fixtures import T0, scored

BURST_RULE = """
[[rule]]
name = "burst"
scope = "ticker"
keys = ["AAPL", "MSFT", "NV*"]
window = "15m"
baseline = "24h"
min_volume = 5
negative_share_above = 0.6
zscore_above = 3.0
for = "2m"
cooldown = "30m"
repeat_interval = "0"
severity = "critical"
labels = { team = "markets" }
annotations = { summary = "{key}: {negative_share:.0%} negative over {window}, z={zscore:.1f}" }
"""


def burst_rules(text: str = BURST_RULE) -> list[Rule]:
    return parse_rules(text, "test-rules")


def background(
    hours: int,
    ticker: str = "AAPL",
    every_min: int = 10,
    negative_every: int = 6,
    start: timedelta = timedelta(0),
) -> list[ScoredStory]:
    """A steady stream: one story per ``every_min`` minutes, each ``negative_every``-th one negative."""
    stories = []
    for i in range(hours * 60 // every_min):
        label = "negative" if i % negative_every == 0 else ("positive" if i % 2 else "neutral")
        stories.append(
            scored(f"{ticker}-bg{i}", start + timedelta(minutes=i * every_min), label, tickers=(ticker,))
        )
    return stories


def clock(start: timedelta, minutes: int) -> list[ScoredStory]:
    """Neutral market stories (no ticker) that move the watermark forward, one per minute."""
    return [
        scored(f"clock{start}-{i}", start + timedelta(minutes=i), "neutral", tickers=())
        for i in range(minutes)
    ]


async def run_detector(
    store: WindowStore, detectors: Sequence[Detector], stories: Iterable[ScoredStory], batch_minutes: int = 30
) -> list[Alert]:
    """Apply stories in event-time order in batches; after each, every detector evaluates concurrently."""
    ordered = sorted(stories, key=lambda s: s.published_at)
    alerts: list[Alert] = []
    batch: list[ScoredStory] = []
    edge: datetime | None = None
    for story in [*ordered, None]:
        if story is not None and (edge is None or story.published_at < edge):
            edge = edge or story.published_at + timedelta(minutes=batch_minutes)
            batch.append(story)
            continue
        result = await store.apply(batch)
        found = await asyncio.gather(*(d.evaluate(result.touched, result.watermark) for d in detectors))
        alerts.extend(alert for each in found for alert in each)
        batch = [] if story is None else [story]
        edge = None if story is None else story.published_at + timedelta(minutes=batch_minutes)
    return alerts


# ---------------------------------------------------------------- delivery: alerts and a real HTTP receiver


def make_alert(
    rule: str = "burst",
    key: str = "AAPL",
    status: str = "firing",
    *,
    minute: int = 0,
    evaluated_minute: int | None = None,
    samples: int = 3,
    title: str = "Apple hit by probe",
) -> Alert:
    starts = T0 + timedelta(minutes=minute)
    evaluated = T0 + timedelta(minutes=minute if evaluated_minute is None else evaluated_minute)
    return Alert(
        fingerprint=alert_fingerprint(rule, "ticker", key),
        status=status,
        rule=rule,
        scope="ticker",
        key=key,
        severity="warning",
        starts_at=starts,
        ends_at=evaluated if status == "resolved" else None,
        value=0.8,
        baseline=0.2,
        zscore=4.2,
        count=9.5,
        samples=[
            Sample(
                id=f"{key}{i}",
                title=f"{title} {i}",
                url=f"https://news.example/{key}/{i}",
                score=-0.9 + i / 100,
                published_at=starts,
            )
            for i in range(samples)
        ],
        labels={"alertname": rule, "scope": "ticker", "key": key, "severity": "warning"},
        annotations={
            "summary": f"{key}: 80% negative over 15m",
            "evaluated_at": evaluated.isoformat(),
            "window": "15m",
            "stories": "10",
            "mean_score": "-0.500000",
        },
    )


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")

    def json(self) -> object:
        return json.loads(self.body)


Behaviour = Callable[[int], "tuple[int, float, dict[str, str]]"]


@dataclass
class Receiver:
    """A real aiohttp server on loopback that records every request and answers as ``behaviour(index)`` says:
    ``(status, delay_s, headers)``."""

    behaviour: Behaviour = lambda index: (200, 0.0, {})  # noqa: E731
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status, delay, headers = self.behaviour(len(self.requests))
        self.requests.append(Received(time.monotonic(), dict(request.headers), body, status))
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, text="bad payload" if status == 400 else "ok", headers=headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def wait_for_requests(self, count: int, timeout_s: float = READY_CEILING_S) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"awaited {count} requests for {timeout_s:g} s; got {len(self.requests)}")
            await asyncio.sleep(0.02)

    async def wait_for(self, count: int, timeout_s: float = READY_CEILING_S) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"awaited {count} deliveries for {timeout_s:g} s; got {len(self.delivered())}")
            await asyncio.sleep(0.02)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    try:
        yield server
    finally:
        await server.stop()


# A valid rules file (the rules and CLI tests).
VALID = """
[[rule]]
name = "chips"
scope = "ticker"
keys = ["NV*", "AMD"]
window = "30m"
negative_share_above = 0.5
for = "5m"
"""


def cli_app() -> typer.Typer:
    """The alerts and rules commands on a bare app, as ``bearwatch`` registers them."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """bearwatch"""

    register(app)
    return app
