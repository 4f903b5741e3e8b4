"""The report's chart as inline SVG: market news volume (bars), negative share (line) and alert starts (markers).

Plain SVG written here, no charting library and no script, so the report opens offline in any browser and the
chart is in the DOM for tests to check (``svg#market-chart``, ``rect.volume``, ``path.neg-share``,
``g.alert-marker``). The bin size adapts to the time range (minutes for an afternoon, days for four months).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from monitor.ground.contracts import Alert
from monitor.history.index import Bin

BIN_CHOICES = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BINS = 400
SEVERITY_COLOURS = {"critical": "#b91c1c", "warning": "#d97706", "info": "#2563eb"}
W, H = 1160, 340
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 44


def pick_bin_seconds(first: datetime, last: datetime) -> int:
    span = (last - first).total_seconds()
    return next((size for size in BIN_CHOICES if span / size <= MAX_BINS), BIN_CHOICES[-1])


def bin_label(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d" if seconds > 86400 else "day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h" if seconds > 3600 else "hour"
    return f"{seconds // 60} min"


def market_chart(bins: Sequence[Bin], episodes: Sequence[Alert], bin_seconds: int) -> str:
    """The SVG markup; ``episodes`` are firing alerts, each linked to its card (``#alert-<n>``)."""
    if not bins:
        return '<svg id="market-chart" data-bins="0" data-alerts="0" width="0" height="0"></svg>'
    start = bins[0].start
    end = bins[-1].start + timedelta(seconds=bin_seconds)
    total = (end - start).total_seconds() or 1.0
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / total

    top_count = max(b.count for b in bins) or 1
    bar_w = max(plot_w * bin_seconds / total - 1, 0.6)
    parts = [f'<svg id="market-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="market negative share and volume" data-bins="{len(bins)}" '
             f'data-alerts="{len(episodes)}" data-bin-seconds="{bin_seconds}">']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{round(top_count * frac)}</text>')
        parts.append(f'<text class="axis neg" x="{W - RIGHT + 6}" y="{y + 4:.1f}">{frac:.0%}</text>')
    for b in bins:
        if b.count:
            height = plot_h * b.count / top_count
            parts.append(f'<rect class="volume" x="{x(b.start):.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{bar_w:.1f}" height="{height:.1f}"><title>{b.start:%Y-%m-%d %H:%M}: '
                         f'{b.count} stories, {b.negative_share:.0%} negative</title></rect>')
    half = timedelta(seconds=bin_seconds / 2)
    points = [(x(b.start + half), TOP + plot_h * (1 - b.negative_share)) for b in bins if b.count]
    if points:
        path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(points))
        parts.append(f'<path class="neg-share" d="{path}"/>')
    for number, alert in enumerate(episodes, 1):
        if not start <= alert.starts_at <= end:
            continue
        ax = x(alert.starts_at)
        colour = SEVERITY_COLOURS.get(alert.severity, "#6b7280")
        title = escape(f"{alert.starts_at:%Y-%m-%d %H:%M} {alert.rule} {alert.scope}:{alert.key}")
        parts.append(f'<a href="#alert-{number}"><g class="alert-marker" data-fingerprint="{alert.fingerprint}">'
                     f'<title>{title}</title><line x1="{ax:.1f}" x2="{ax:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                     f'stroke="{colour}"/><circle cx="{ax:.1f}" cy="{TOP + 5}" r="4.5" fill="{colour}"/></g></a>')
    for i in range(7):
        moment = start + timedelta(seconds=total * i / 6)
        fmt = "%Y-%m-%d" if total > 8 * 86400 else "%m-%d %H:%M"
        parts.append(f'<text class="axis" x="{x(moment):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">'
                     f'{moment:{fmt}}</text>')
    parts.append(f'<text class="axis" x="{LEFT}" y="{H - 6}">stories per {bin_label(bin_seconds)} (bars, left)'
                 '</text><text class="axis neg" x="{0}" y="{1}" text-anchor="end">negative share (line, right)'
                 '</text>'.replace("{0}", str(W - RIGHT)).replace("{1}", str(H - 6)))
    parts.append("</svg>")
    return "".join(parts)
