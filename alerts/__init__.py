"""Bearwatch alerts stage: rules, the event-time detector, the alert lifecycle and durable delivery.

Public entry points (imported lazily, so ``bearwatch --help`` stays fast)::

    from alerts import Detector, Notifier, load_rules, Rule, RuleError
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Detector": "alerts.detector",
    "Notifier": "alerts.delivery.notifier",
    "DeliveryPolicy": "alerts.delivery.backoff",
    "Rule": "alerts.rules",
    "RuleError": "alerts.rules",
    "load_rules": "alerts.rules",
    "parse_rules": "alerts.rules",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alerts' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = list(_EXPORTS)
