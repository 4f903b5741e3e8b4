"""What a scenario hands back (:class:`ScenarioResult`) and the one-line-per-scenario table ``make resilience``
prints: PASS/FAIL, stories served/scored/counted, what was lost (in words, so the line reads without the docs),
alerts decided/delivered, duplicates, max lag, peak RSS."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.resilience.books import Books

MB = 1024 * 1024


@dataclass
class ScenarioResult:
    name: str
    books: Books
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    max_lag: int = 0
    peak_rss: dict[str, int] = field(default_factory=dict)  # process name -> bytes
    seconds: float = 0.0
    measured: dict[str, float] = field(default_factory=dict)  # e.g. capacity (stories/s) for the soak's rate
    lost_detail: list[str] = field(default_factory=list)  # where the losses came from, e.g. "3 with Tansu's memory"

    @property
    def passed(self) -> bool:
        return not self.failures

    def require(self, condition: bool, failure: str) -> None:
        """Record ``failure`` unless ``condition`` holds (the scenario's own assertion, one clause)."""
        if not condition:
            self.failures.append(failure)

    def check(self) -> None:
        """Raise AssertionError naming every failed clause, with the notes that explain the run."""
        if self.failures:
            raise AssertionError(f"{self.name} failed:\n  - " + "\n  - ".join(self.failures)
                                 + ("\nnotes:\n  * " + "\n  * ".join(self.notes) if self.notes else ""))

    def line(self) -> str:
        b = self.books
        rss = " ".join(f"{name} {value / MB:.0f}" for name, value in sorted(self.peak_rss.items()))
        return (
            f"{'PASS' if self.passed else 'FAIL'}  {self.name:<22} "
            f"stories served/scored/counted {b.served}/{b.scored}/{b.counted}  {self.lost_line()}  "
            f"alerts decided/delivered {b.decided}/{b.delivered}  dup {b.duplicates}  "
            f"max lag {self.max_lag}  peak RSS MB [{rss}]  {self.seconds:.0f} s"
        )


    def lost_line(self) -> str:
        """``lost: N stories (served, never counted), M notifications (decided, never delivered)`` plus the
        scenario's own breakdown in brackets."""
        b = self.books
        text = (f"lost: {len(b.lost)} stories (served, never counted), "
                f"{len(b.undelivered)} notifications (decided, never delivered)")
        return text + (f" [{'; '.join(self.lost_detail)}]" if self.lost_detail else "")


def table(results: list[ScenarioResult]) -> str:
    """One line per scenario, then the failures and notes of each."""
    lines = [result.line() for result in results]
    for result in results:
        for failure in result.failures:
            lines.append(f"  {result.name}: FAIL {failure}")
        for note in result.notes:
            lines.append(f"  {result.name}: {note}")
    return "\n".join(lines)
