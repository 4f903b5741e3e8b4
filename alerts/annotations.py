"""Templated alert text: ``str.format`` placeholders filled with the numbers that made the alert fire.

Templates are checked when rules load (an unknown placeholder is a rule error, not a broken notification at 3
a.m.). Values that do not exist yet (a z-score without enough baseline) render as ``n/a`` whatever the format
spec, so a template never fails at run time.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

PLACEHOLDERS = {
    "rule": "rule name",
    "scope": "market/topic/ticker/source",
    "key": "the scope key",
    "severity": "severity",
    "window": "window span, e.g. 15m",
    "negative_share": "novelty-weighted negative share (0-1)",
    "mean_score": "novelty-weighted mean score (-1..1)",
    "zscore": "z-score of the share vs the baseline",
    "baseline": "baseline negative share (0-1)",
    "volume": "novelty-weighted stories",
    "count": "stories in the window",
    "negative": "negative stories",
    "status": "firing/resolved",
    "top_headline": "the most negative headline",
    "surprise": "-log10 of the chance of this much negative news (surprise rules)",
    "expected": "negative stories the key normally gets in the window (surprise rules)",
}
MAX_TEMPLATE = 2000
MAX_FORMAT_NUMBER = 64  # widths and precisions above this are a typo or an attack, not a layout
_NUMBERS = re.compile(r"\d+")


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "n/a"
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMATTER = _Formatter()


def check_template(template: str) -> None:
    """Raise ValueError naming an unknown placeholder, an oversized format spec or a syntax error."""
    if len(template) > MAX_TEMPLATE:
        raise ValueError(f"template is longer than {MAX_TEMPLATE} characters")
    try:
        parsed = [(name, spec or "") for _, name, spec, _ in _FORMATTER.parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(f"bad template syntax: {exc}") from None
    for name, spec in parsed:
        if "{" in spec or "}" in spec:
            raise ValueError(f"format spec of {{{name}}} may not contain nested placeholders")
        if any(int(number) > MAX_FORMAT_NUMBER for number in _NUMBERS.findall(spec)):
            raise ValueError(f"format spec {spec[:40]!r} of {{{name}}}: widths and precisions go up to "
                             f"{MAX_FORMAT_NUMBER}")
    fields = [name for name, _ in parsed]
    for name in fields:
        base = name.split(".")[0].split("[")[0]
        if base not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}: use one of {', '.join(sorted(PLACEHOLDERS))}")
    sample = dict.fromkeys(PLACEHOLDERS, 0.5) | {"rule": "r", "scope": "ticker", "key": "K", "window": "15m"}
    render(template, sample)


def render(template: str, values: Mapping[str, Any]) -> str:
    try:
        return _FORMATTER.vformat(template, (), dict(values))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"template could not be rendered: {exc!r}") from None
