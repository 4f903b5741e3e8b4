"""Event-time sentiment windows in Redis: idempotent bucket writes and rolling-window reads.

See ``docs/windows.md`` for the key layout, the watermark and how rolling windows are summed.
"""

from monitor.stages.windows.spans import SpanError, format_span, parse_span
from monitor.stages.windows.stats import METRICS, WindowStats
from monitor.stages.windows.store import WindowStore
from monitor.stages.windows.writer import ApplyResult

__all__ = ["METRICS", "ApplyResult", "SpanError", "WindowStats", "WindowStore", "format_span", "parse_span"]
