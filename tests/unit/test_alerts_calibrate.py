"""``rules calibrate`` on synthetic history: the written thresholds meet the false-alarm budget when backtested,
the file loads back, and the budget/rate parsing and ``rules check`` refuse bad input in one line."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.calibrate import CalibrationError, calibrate, parse_rate, rules_toml
from alerts.rules import RuleError, load_rules_file, parse_rules
from monitor.ground.contracts import ScoredStory
from monitor.history.engine import run_rules
from monitor.history.events import episodes
from tests.support.alerts_fixtures import cli_app as _app
from tests.support.windows_fixtures import scored

RULES = """
[[rule]]
name = "topic_surprise"
scope = "topic"
windows = ["1h", "6h", "24h"]
surprise_above = 2.0
test = "both"
min_negative = 2
min_volume = 2
cooldown = "6h"
repeat_interval = "0"

[[rule]]
name = "legacy"
scope = "market"
window = "1h"
negative_share_above = 0.9
min_volume = 50
"""


def calm_history(weeks: int, seed: int = 7) -> list[ScoredStory]:
    """Four topics with their own volumes and shares, a day-night rhythm, quiet weekends and clustered news
    (some hours carry a burst of stories on one subject, negative or not)."""
    rng = random.Random(seed)
    topics = {"Macro": (6, 0.08), "Financials": (4, 0.05), "Politics": (3, 0.12), "Energy": (1, 0.1)}
    stories = []
    for hour in range(weeks * 7 * 24):
        at = timedelta(hours=hour)
        day_factor = 0.3 if (hour // 24) % 7 >= 5 else 1.0
        night = 0.2 if (hour % 24) < 6 else 1.0
        for topic, (per_hour, share) in topics.items():
            mood = share * rng.choice([0.5, 1.0, 1.0, 1.5, 2.5])  # news comes in clusters
            for i in range(rng.randint(0, int(2 * per_hour * day_factor * night) + 1)):
                label = "negative" if rng.random() < mood else rng.choice(["neutral", "positive"])
                stories.append(scored(f"{topic}-{hour}-{i}", at + timedelta(seconds=rng.randrange(3600)), label,
                                      tickers=(), topic=topic))
    return sorted(stories, key=lambda s: (s.published_at, s.id))


def test_calibrated_thresholds_meet_the_budget_when_backtested(tmp_path: Path) -> None:
    stories = calm_history(weeks=5)
    rules = parse_rules(RULES)
    loose = Counter(a.key for a in episodes(run_rules(rules, stories, 60, 300).alerts) if a.rule == "topic_surprise")
    weeks = 5
    assert max(loose.values()) / weeks > 0.5, "the starting threshold must be too loose for the test to mean much"
    grid = [round(2.0 + 0.25 * i, 2) for i in range(60)]
    fitted, report = calibrate(rules, stories, target_per_week=0.5, step=60, lateness_s=300, grid=grid)
    by_name = {c.rule: c for c in report}
    assert by_name["topic_surprise"].met and by_name["topic_surprise"].after > 2.0
    assert by_name["legacy"].after is None  # threshold rules are copied unchanged
    path = tmp_path / "calibrated.toml"
    path.write_text(rules_toml(fitted, "calibrated\nfor a test"), encoding="utf-8")
    again = load_rules_file(path)
    assert [r.model_dump() for r in again] == [r.model_dump() for r in fitted]
    fired = Counter(a.key for a in episodes(run_rules(again, stories, 60, 300).alerts) if a.rule == "topic_surprise")
    assert all(n / weeks <= 0.5 for n in fired.values()), fired
    # one step looser breaks the budget: the chosen threshold is the smallest that meets it
    looser = fitted[0].model_copy(update={"surprise_above": fitted[0].surprise_above - 0.25})
    fired = Counter(a.key for a in episodes(run_rules([looser], stories, 60, 300).alerts))
    assert max(fired.values()) / weeks > 0.5


@pytest.mark.parametrize(("text", "per_week"), [("1/week", 1.0), ("2/month", 2 * 7 / 30.4), ("0.5/day", 3.5),
                                                 ("3", 3.0)])
def test_target_rates(text: str, per_week: float) -> None:
    assert parse_rate(text) == pytest.approx(per_week)


@pytest.mark.parametrize("text", ["", "often", "0/week", "1/fortnight", "9" * 400])
def test_bad_target_rates_are_refused(text: str) -> None:
    with pytest.raises(CalibrationError, match="--target-rate"):
        parse_rate(text)


@pytest.mark.parametrize(("snippet", "words"), [
    ("min_volume = 1e400", "min_volume"),
    ("min_baseline_hours = 99999999999999999999", "min_baseline_hours"),
    ('window = "99999999999999999999d"', "too large"),
    ('for = "999999999w"', "too large"),
    ("surprise_above = nan", "surprise_above"),
    ('annotations = { summary = "{volume:.2000000000f}" }', "widths and precisions go up to"),
    ('annotations = { summary = "{volume:{key}}" }', "nested placeholders"),
    ('windows = ["1h", "6h"]', "'windows' is for the surprise test"),
    ('scope = "galaxy"', "'entity'"),
])
def test_rules_check_refuses_huge_numbers_and_format_specs_in_one_line(tmp_path: Path, snippet: str,
                                                                       words: str) -> None:
    base = '[[rule]]\nname = "r"\nscope = "ticker"\nnegative_share_above = 0.5\n'
    key = snippet.split(" =")[0]
    text = "\n".join(line for line in base.splitlines() if not line.startswith(key + " ")) + "\n" + snippet + "\n"
    with pytest.raises(RuleError, match=words):
        parse_rules(text, "my.toml")
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(_app(), ["rules", "check", str(path)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and words.split("'")[0][:10] in " ".join(result.output.split())


def test_rules_check_on_a_non_utf8_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[[rule]]\nname = "caf\u00e9"\n'.encode("latin-1"))
    result = CliRunner().invoke(_app(), ["rules", "check", str(path)])
    assert result.exit_code == 1 and "not UTF-8" in result.output
