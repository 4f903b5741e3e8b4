"""Fuzzing the rules loader: any text or any TOML-shaped table either loads or raises one ``RuleError``."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.rules import RuleError, parse_rules

FIELDS = ["name", "scope", "keys", "window", "windows", "baseline", "min_volume", "surprise_above", "test",
          "min_negative", "dispersion", "prior_weight", "prior_share", "negative_share_above", "mean_score_below",
          "zscore_above", "min_baseline_hours", "for", "cooldown", "repeat_interval", "severity", "annotations"]
values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.booleans(), st.lists(st.text(max_size=8), max_size=4),
    st.sampled_from(["15m", "1h", "7d", "0", "-5m", "99999999999999d", "ticker", "market", "entity",
                     "{volume:.2000000000f}", "{key}", "{nope}"]),
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, "nan" if value != value else repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\\\", "\\\\\\\\").replace('"', '\\\\"').replace("\\n", " ") + '"'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), values, max_size=10))
def test_any_rule_table_loads_or_fails_with_one_rule_error(table: dict[str, object]) -> None:
    body = "\n".join(f"{'annotations' if k == 'annotations' else k} = "
                     + (f"{{ summary = {toml_value(v)} }}" if k == "annotations" else toml_value(v))
                     for k, v in table.items())
    try:
        rules = parse_rules("[[rule]]\n" + body + "\n", "fuzz.toml")
    except RuleError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc)[:200]
    else:
        assert len(rules) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_with_one_rule_error(text: str) -> None:
    try:
        parse_rules(text, "fuzz.toml")
    except RuleError as exc:
        assert str(exc).startswith("fuzz.toml")
