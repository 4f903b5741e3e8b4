"""Rules load from TOML, merge over the shipped ones, and fail at load naming the rule and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts.rules import RuleError, load_rules, parse_rules
from tests.support.alerts_fixtures import VALID


def test_shipped_rules_load_and_a_user_file_overrides_adds_and_disables(tmp_path: Path) -> None:
    shipped = {rule.name for rule in load_rules()}
    assert {"ticker_negative_burst", "market_negative_shift"} <= shipped
    user = tmp_path / "rules.toml"
    user.write_text(
        VALID + '\n[[rule]]\nname = "market_negative_shift"\nscope = "market"\nenabled = false\n'
        "negative_share_above = 0.9\n"
    )
    merged = {rule.name: rule for rule in load_rules(user)}
    assert "market_negative_shift" not in merged and "chips" in merged
    chips = merged["chips"]
    assert (chips.window, chips.for_, chips.baseline) == (
        timedelta(minutes=30),
        timedelta(minutes=5),
        timedelta(days=7),
    )
    assert [k for k in ("NVDA", "NVAX", "AMD", "AMDX", "AAPL") if chips.matches(k)] == ["NVDA", "NVAX", "AMD"]


@pytest.mark.parametrize(
    ("snippet", "field", "words"),
    [
        ('window = "15 minutes"', "window", "not understood"),
        ("negative_share_above = 1.5", "negative_share_above", "less than or equal to 1"),
        ('scope = "galaxy"', "scope", "'market', 'topic', 'ticker', "),
        ('severity = "meh"', "severity", "'info', 'warning' or 'critical'"),
        ("treshold = 3", "treshold", "unknown field"),
        ('annotations = { summary = "{key} is {mood}" }', "annotations", "unknown placeholder {mood}"),
        ('for = "-5m"', "for", "not understood"),
        ("keys = []", "keys", "non-empty"),
    ],
)
def test_an_invalid_rule_fails_at_load_naming_the_rule_and_the_field(
    snippet: str, field: str, words: str
) -> None:
    key = snippet.split(" =")[0]
    lines = [line for line in VALID.strip().splitlines() if not line.startswith(key + " ")]
    with pytest.raises(RuleError) as caught:
        parse_rules("\n".join([*lines, snippet]), "my-rules.toml")
    message = str(caught.value)
    assert message.startswith("my-rules.toml: rule 'chips': field ")
    assert f"field '{field}" in message and words in message


def test_a_rule_without_any_threshold_or_twice_defined_is_rejected() -> None:
    with pytest.raises(RuleError, match="rule 'empty': field 'rule': set at least one of"):
        parse_rules('[[rule]]\nname = "empty"\nscope = "topic"\n', "f")
    with pytest.raises(RuleError, match="rule 'chips': field 'name': defined twice"):
        parse_rules(VALID + VALID, "f")
    with pytest.raises(RuleError, match="not valid TOML"):
        parse_rules("[[rule]\nname=", "f")
    with pytest.raises(RuleError, match="does not exist"):
        load_rules(Path("/nonexistent/rules.toml"))
