"""Detection rules: the TOML format, validation at load time, and key filters.

A rules file is an array of ``[[rule]]`` tables (see ``alerts/rules.toml``, the shipped defaults, and
``docs/alerts.md``). The user's file (``settings.rules_file``) is loaded on top of the defaults: a rule with
the same name replaces the shipped one, ``enabled = false`` switches one off. Anything invalid stops the load
with a :class:`RuleError` that names the file, the rule and the field, because a rule that silently never
fires is worse than a process that refuses to start.
"""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.annotations import check_template
from monitor.ground.errors import BearwatchError
from monitor.stages.windows.layout import SCOPES
from monitor.stages.windows.spans import SpanError, format_span, parse_span

# Scopes a rule may watch: those the windows write, plus ``entity`` (organisation names), which may not be written
# yet by an older window store; a rule on a scope without keys simply never fires.
RULE_SCOPES = tuple(dict.fromkeys((*SCOPES, "entity")))
MAX_WINDOWS = 6

SHIPPED_RULES = Path(__file__).with_name("rules.toml")
DEFAULT_SUMMARY = (
    "{key}: {negative_share:.0%} negative over {window} ({volume:.1f} novelty-weighted stories, "
    "baseline {baseline:.0%}, z={zscore:.1f})"
)


class RuleError(ValueError, BearwatchError):
    """A rule is invalid; the message names the file, the rule and the field."""


def _span(value: Any) -> timedelta:
    try:
        span = parse_span(value)
    except SpanError as exc:
        raise ValueError(str(exc)) from None
    except (OverflowError, ValueError):
        raise ValueError(f"span {str(value)[:40]!r} is too large: use at most a few weeks") from None
    if span > timedelta(days=366):
        raise ValueError(f"span {format_span(span)} is too large: use at most a year")
    return span


def _span_or_zero(value: Any) -> timedelta:
    if value in (0, "0", "0s", None):
        return timedelta(0)
    return _span(value)


class Rule(BaseModel):
    """One detection rule. Every threshold that is set must hold (AND) for the rule's condition to be true."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    enabled: bool = True
    scope: str
    keys: str | list[str] = Field(default="all", description="'all', a glob such as 'BRK*', or a list")
    window: timedelta = Field(default=timedelta(minutes=15))
    windows: tuple[timedelta, ...] | None = Field(default=None, description="surprise test: windows, any may fire")
    baseline: timedelta = Field(default=timedelta(days=7))
    min_volume: float = Field(default=5.0, ge=0, le=1e9, description="minimum novelty-weighted stories in the window")
    surprise_above: float | None = Field(default=None, gt=0, le=300, description="-log10 p of the negative news")
    test: Literal["share", "count", "both"] = Field(default="both", description="what the surprise is relative to")
    min_negative: float = Field(default=3.0, ge=0, le=1e9, description="surprise test: novelty-weighted negatives")
    dispersion: float = Field(default=2000.0, gt=0, le=1e9, description="most stories of history trusted")
    prior_weight: float = Field(default=100.0, gt=0, le=1e9, description="stories the prior share is worth")
    prior_share: float = Field(default=0.05, gt=0, lt=1, description="prior share without any market history")
    prior_volume_per_day: float = Field(default=1.0, ge=0, le=1e9, description="count test: a new key's volume")
    negative_share_above: float | None = Field(default=None, ge=0, le=1)
    mean_score_below: float | None = Field(default=None, ge=-1, le=1)
    zscore_above: float | None = Field(default=None, gt=0)
    min_baseline_hours: int = Field(default=3, ge=1, le=24 * 366, description="hours with data needed for a z-score")
    min_stddev: float = Field(default=0.05, gt=0, le=1)
    require_baseline: bool = Field(
        default=True, description="no baseline yet: True = z test fails, False = skip"
    )
    for_: timedelta = Field(default=timedelta(0), alias="for")
    cooldown: timedelta = Field(default=timedelta(minutes=30))
    repeat_interval: timedelta = Field(default=timedelta(hours=4))
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=lambda: {"summary": DEFAULT_SUMMARY})

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        if value not in RULE_SCOPES:
            raise ValueError(f"Input should be {', '.join(repr(s) for s in RULE_SCOPES[:-1])} or {RULE_SCOPES[-1]!r}")
        return value

    @field_validator("window", "baseline", mode="before")
    @classmethod
    def _positive_span(cls, value: Any) -> timedelta:
        return _span(value)

    @field_validator("windows", mode="before")
    @classmethod
    def _windows(cls, value: Any) -> tuple[timedelta, ...] | None:
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not items or len(items) > MAX_WINDOWS:
            raise ValueError(f"must be a list of 1 to {MAX_WINDOWS} spans, e.g. [\"1h\", \"6h\", \"24h\"]")
        return tuple(sorted({_span(item) for item in items}))

    @field_validator("for_", "cooldown", "repeat_interval", mode="before")
    @classmethod
    def _optional_span(cls, value: Any) -> timedelta:
        return _span_or_zero(value)

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items or any(not item.strip() for item in items):
            raise ValueError("must be 'all', a glob or a non-empty list of non-empty keys")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.replace("_", "a").isalnum() or name[0].isdigit():
                raise ValueError(f"label name {name!r} must be letters, digits and underscores")
        return value

    @field_validator("annotations")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            try:
                check_template(template)
            except ValueError as exc:
                raise ValueError(f"template {name!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if (self.negative_share_above is None and self.mean_score_below is None and self.zscore_above is None
                and self.surprise_above is None):
            raise ValueError(
                "set at least one of surprise_above, negative_share_above, mean_score_below, zscore_above")
        if self.windows is not None and self.surprise_above is None:
            raise ValueError("'windows' is for the surprise test: set surprise_above, or use 'window'")
        if self.scope == "market" and self.keys not in ("all", "*", ["all"]):
            raise ValueError("a market rule has the single key 'all': remove 'keys'")
        if self.zscore_above is not None and self.baseline < timedelta(hours=self.min_baseline_hours):
            raise ValueError(f"baseline {format_span(self.baseline)} is shorter than min_baseline_hours")
        return self

    @property
    def window_text(self) -> str:
        return format_span(self.window)

    @property
    def all_windows(self) -> tuple[timedelta, ...]:
        """The windows the condition looks at: ``windows`` for a surprise rule, else the one ``window``."""
        return self.windows if self.windows is not None else (self.window,)

    @property
    def longest_window(self) -> timedelta:
        return max(self.all_windows)

    def matches(self, key: str) -> bool:
        """Whether the rule watches ``key`` ('all'/'*' match all; globs use fnmatch, case-sensitive)."""
        if self.scope == "market":
            return key == "all"
        items = [self.keys] if isinstance(self.keys, str) else self.keys
        return any(item in ("all", "*") or fnmatch.fnmatchcase(key, item) for item in items)


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ()) if part != "for_"] or ["rule"]
    field = ".".join("for" if part == "for_" else part for part in loc)
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown field (check its spelling)"
    return field, message


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    """Rules from TOML text; raise :class:`RuleError` naming ``source``, the rule and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - {"rule"}
    if unknown:
        raise RuleError(f"{source}: unknown top-level key(s) {sorted(unknown)}: rules go in [[rule]] tables")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise RuleError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(tables):
        label = f"rule {table.get('name')!r}" if isinstance(table.get("name"), str) else f"rule #{index + 1}"
        if not isinstance(table, dict):
            raise RuleError(f"{source}: rule #{index + 1}: each [[rule]] must be a table")
        try:
            rule = Rule.model_validate(table)
        except (OverflowError, RecursionError):
            raise RuleError(f"{source}: {label}: a number is too large") from None
        except ValidationError as exc:
            field, message = _first_error(exc)
            raise RuleError(f"{source}: {label}: field {field!r}: {message}") from None
        if rule.name in names:
            raise RuleError(f"{source}: {label}: field 'name': defined twice in this file")
        names.add(rule.name)
        rules.append(rule)
    return rules


MAX_RULES_BYTES = 1_000_000


def load_rules_file(path: Path) -> list[Rule]:
    if not path.is_file():
        raise RuleError(f"rules file {path} does not exist")
    if path.stat().st_size > MAX_RULES_BYTES:
        raise RuleError(f"rules file {path} is larger than {MAX_RULES_BYTES:,} bytes: is it the right file?")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleError(f"rules file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    return parse_rules(text, str(path))


def load_rules(user_file: Path | None = None, *, include_shipped: bool = True) -> list[Rule]:
    """The shipped rules overlaid by ``user_file``; disabled rules are dropped."""
    merged: dict[str, Rule] = {}
    if include_shipped:
        merged.update({rule.name: rule for rule in load_rules_file(SHIPPED_RULES)})
    if user_file is not None:
        merged.update({rule.name: rule for rule in load_rules_file(user_file)})
    return [rule for rule in merged.values() if rule.enabled]
