"""Event-time sentiment windows in Redis: idempotent bucket writes and rolling-window reads.

See ``docs/windows.md`` for the key layout, the watermark and how rolling windows are summed.
"""

from monitor.windows.spans import SpanError, format_span, parse_span
from monitor.windows.stats import METRICS, WindowStats
from monitor.windows.store import WindowStore
from monitor.windows.writer import ApplyResult

__all__ = ["METRICS", "ApplyResult", "SpanError", "WindowStats", "WindowStore", "format_span", "parse_span"]
