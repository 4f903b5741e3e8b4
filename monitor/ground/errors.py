"""The one root of Bearwatch's own exceptions.

Every exception class defined in ``monitor/``, ``consumers/``, ``alerts/`` and ``dashboards/`` derives from
:class:`BearwatchError` (keeping its other bases, so ``except ValueError`` still catches a ``ValueError`` subclass).
A caller at the edge (a CLI, a supervisor loop) can then tell "one of ours, with a message meant for an operator"
from a bug in a library with one ``except BearwatchError``. ``tests/unit/test_errors_root.py`` keeps it true.
"""

from __future__ import annotations

__all__ = ["BearwatchError"]


class BearwatchError(Exception):
    """Base of every exception that Bearwatch itself defines."""
