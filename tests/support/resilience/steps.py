"""Building blocks shared by the scenarios: the :class:`Size` of a run, readiness, settling and closing the
books into a :class:`ScenarioResult` whose failures are the scenario's own assertion."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.support.resilience.books import Books, close_books
from tests.support.resilience.harness import Harness
from tests.support.resilience.report import ScenarioResult


@dataclass(frozen=True)
class Size:
    rate: float = 8.0  # stories per second written by the publishers
    stream_s: float = 8.0  # seconds of stream before and after each fault
    outage_s: float = 5.0  # how long the fault lasts (scenario 5: the hostile phase; 7: the soak)
    faults: int = 1  # how many times the fault is injected
    burst: int = 0  # scenario 6: stories written at once
    feed_window: int = 400  # items each feed carries
    settle_s: float = 240.0  # longest wait for the books to balance (a ceiling for a loaded machine)


def new_result(name: str, h: Harness, began: float) -> ScenarioResult:
    assert h.sampler is not None
    return ScenarioResult(name, Books(), max_lag=h.sampler.max_lag(),
                          peak_rss={n: h.sampler.peak_rss(n) for n in (*h.stack.servers, "ingest", "worker")},
                          seconds=time.monotonic() - began)


async def finish(name: str, h: Harness, began: float, size: Size, *, oracle: bool = True,
                  strict_alerts: bool = True, excused: frozenset[str] = frozenset()) -> ScenarioResult:
    settled = await h.settle(size.settle_s, excused=excused)
    books = await close_books(h, oracle=oracle)
    result = new_result(name, h, began)
    result.books = books
    result.require(settled, f"the system did not settle within {size.settle_s:.0f} s")
    for problem in books.problems(alerts=strict_alerts, oracle=oracle):
        result.failures.append(problem)
    if books.not_scored or books.lost:
        result.notes.append("taps: " + "; ".join(tap.describe() for tap in h.taps.values()))
    if books.oracle is None and oracle:
        result.notes.append(f"offline detector check not applicable: {books.late} late stories or a sentiment "
                            "label that differed between two scorings of one story")
    if books.ambiguous:
        result.notes.append(f"{books.ambiguous} stories scored twice got different labels (near-ties read "
                            "differently in another micro-batch); the window check accepts either copy")
    restarts = {n: s.restarts for n, s in h.services.items() if s.restarts}
    if restarts:
        result.notes.append(f"supervisor restarts: {restarts}")
    return result


async def ready(h: Harness, result_name: str) -> None:
    if not await h.wait_ready():
        raise AssertionError(f"{result_name}: the pipeline never became ready; logs in {h.workdir / 'logs'}")


async def resumed_after(h: Harness, since: float, timeout_s: float) -> float | None:
    """Seconds from ``since`` until a story written after it is counted."""
    fresh = await h.world.call(lambda: h.world.write(6))
    ok = await h.wait_counted({item.id for item in fresh}, timeout_s)
    return time.monotonic() - since if ok else None
