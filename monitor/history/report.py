"""The backtest's HTML report: one self-contained file (inline CSS, SVG and a few lines of script, no CDN).

What a reader wants first: how much news, how negative, when the alerts fired (the chart), why each one fired
(a card per firing episode: rule, thresholds, the measured numbers, the most negative headlines with links), how
often each rule fired (a table that also filters the cards) and, given known events, precision, recall and lead
time. The page layout lives in ``report.html`` (``string.Template``); this module fills it, escaping all text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from string import Template

from alerts.rules import Rule
from monitor.ground.contracts import Alert
from monitor.history.backtest_run import BacktestRun
from monitor.history.chart import market_chart, pick_bin_seconds
from monitor.history.engine import Closeness
from monitor.history.events import EventOutcome, EventScores, episodes
from monitor.stages.windows.spans import format_span, from_ms

TEMPLATE = Path(__file__).with_name("report.html")
MAX_CARDS = 300


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    sign, seconds = ("-" if value < timedelta(0) else ""), abs(value.total_seconds())
    return f"{sign}{seconds / 3600:.1f} h" if seconds >= 3600 else f"{sign}{seconds / 60:.0f} min"


def thresholds(rule: Rule) -> str:
    windows = "/".join(format_span(w) for w in rule.all_windows)
    parts = [f"volume ≥ {rule.min_volume:g}"]
    if rule.surprise_above is not None:
        parts = [f"surprise ≥ {rule.surprise_above:g} ({rule.test}) in any of {windows}",
                 f"≥ {rule.min_negative:g} negative", f"volume ≥ {rule.min_volume:g}",
                 f"vs {format_span(rule.baseline)} of history"]
    if rule.negative_share_above is not None:
        parts.append(f"negative share > {rule.negative_share_above:.0%}")
    if rule.mean_score_below is not None:
        parts.append(f"mean score < {rule.mean_score_below:+.2f}")
    if rule.zscore_above is not None:
        parts.append(f"z > {rule.zscore_above:g} vs {format_span(rule.baseline)} baseline")
    if rule.for_:
        parts.append(f"for {format_span(rule.for_)}")
    return ", ".join(parts)


def closeness_words(near: Closeness | None, rule: Rule | None) -> str:
    """Why a rule fired nothing: how close it came (surprise, volume, negatives, history)."""
    if near is None or rule is None:
        return ""
    if near.keys == 0:
        return f"no {rule.scope} keys in this data"
    parts = []
    if rule.surprise_above is not None:
        where = (f" ({near.max_surprise_key}, {from_ms(near.max_surprise_at * 1000):%Y-%m-%d %H:%M})"
                 if near.max_surprise_key and near.max_surprise_at else "")
        parts.append(f"max surprise {near.max_surprise:.2f} of {rule.surprise_above:g} needed{where}")
        if near.max_negative < rule.min_negative:
            parts.append(f"at most {near.max_negative:.1f} negative stories in a window "
                         f"({rule.min_negative:g} needed)")
    if near.max_volume < rule.min_volume:
        parts.append(f"volume short: at most {near.max_volume:.1f} stories in a window ({rule.min_volume:g} needed)")
    if near.without_history:
        parts.append(f"{near.without_history:,} evaluations had no baseline history yet")
    return "; ".join(parts) or "its conditions never held"


def resolved_at(alerts: Sequence[Alert]) -> dict[tuple[str, datetime], datetime | None]:
    return {(a.fingerprint, a.starts_at): a.ends_at for a in alerts if a.status == "resolved"}


def rules_rows(rules: Sequence[Rule], alerts: Sequence[Alert], closeness: dict[str, Closeness] | None = None) -> str:
    fired = Counter(a.rule for a in episodes(alerts))
    resolved = Counter(a.rule for a in alerts if a.status == "resolved")
    closeness = closeness or {}
    return "".join(
        f'<tr class="rule" data-rule="{escape(r.name)}"><td>{escape(r.name)}</td><td>{r.scope}</td>'
        f"<td>{'/'.join(format_span(w) for w in r.all_windows)}</td><td>{escape(thresholds(r))}</td>"
        f'<td>{r.severity}</td><td class="fired">{fired[r.name]}</td><td>{resolved[r.name]}</td>'
        f'<td class="closeness">{escape(closeness_words(closeness.get(r.name), r)) if not fired[r.name] else ""}'
        "</td></tr>"
        for r in rules
    )


def alert_card(number: int, alert: Alert, rule: Rule | None, ended: datetime | None) -> str:
    numbers = [("negative share", f"{alert.value:.1%}"), ("stories", alert.annotations.get("stories", "")),
               ("novelty-weighted volume", f"{alert.count:g}"),
               ("mean score", alert.annotations.get("mean_score", ""))]
    if alert.baseline is not None:
        numbers.append(("baseline", f"{alert.baseline:.1%}"))
    if alert.zscore is not None:
        numbers.append(("z-score", f"{alert.zscore:.2f}"))
    numbers.append(("window", alert.annotations.get("window", "")))
    numbers.append(("ended", _when(ended) if ended else "still firing at the end of the data"))
    if rule is not None:
        numbers.append(("rule thresholds", thresholds(rule)))
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in numbers)
    headlines = "".join(
        f'<li><span class="score">{s.score:+.2f}</span> '
        + (f'<a href="{escape(s.url)}">{escape(s.title)}</a>' if s.url.startswith(("http://", "https://"))
           else escape(s.title))
        + (f' <span class="note">{s.published_at:%m-%d %H:%M}</span>' if s.published_at else "") + "</li>"
        for s in alert.samples
    )
    why = alert.annotations.get("summary") or f"{alert.rule} on {alert.scope} {alert.key}"
    return (
        f'<article class="alert-card {alert.severity}" id="alert-{number}" data-rule="{escape(alert.rule)}" '
        f'data-fingerprint="{alert.fingerprint}" data-starts-at="{alert.starts_at.isoformat()}">'
        f"<h3>{escape(alert.rule)} · {alert.scope} <b>{escape(alert.key)}</b></h3>"
        f'<div class="meta">fired {_when(alert.starts_at)} · {alert.severity}</div>'
        f'<div class="why">{escape(why)}</div><dl>{facts}</dl>'
        + (f"<div>Most negative headlines:</div><ol>{headlines}</ol>" if headlines else "")
        + "</article>"
    )


def events_section(scores: EventScores | None) -> str:
    if scores is None:
        return ""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    def span(o: EventOutcome) -> str:
        end = f" – {o.event.end:%Y-%m-%d %H:%M}" if o.event.until else ""
        return f"{_when(o.event.time)}{end}"

    rows = "".join(
        f'<tr class="event{" detected" if o.detected else ""}"><td>{span(o)}</td>'
        f"<td>{escape(o.event.describe_key())}</td><td>{escape(o.event.label)}</td>"
        f"<td>{'yes' if o.detected else 'no'}</td><td>{duration_text(o.lead)}</td>"
        f"<td>{escape(', '.join(sorted({f'{a.rule} {a.scope}:{a.key}' for a in o.alerts})[:6]) or _closest(o))}"
        "</td></tr>"
        for o in scores.outcomes
    )
    rate = scores.false_alarms_per_week
    return (
        '<h2>Report card: known events</h2><div class="tiles" id="event-scores">'
        f'<div class="tile"><b id="recall">{pct(scores.recall)}</b><span>events detected '
        f"({sum(o.detected for o in scores.outcomes)}/{len(scores.outcomes)})</span></div>"
        f'<div class="tile"><b id="false-alarms">{"n/a" if rate is None else f"{rate:.2f}"}</b><span>false alarms '
        f"per week outside events ({len(scores.false_alarms)} in {scores.calm_weeks:.1f} weeks)</span></div>"
        f'<div class="tile"><b id="precision">{pct(scores.precision)}</b><span>precision '
        f"({scores.matched_episodes}/{scores.episodes} alerts)</span></div>"
        f'<div class="tile"><b>{duration_text(scores.median_lead)}</b><span>median lead time</span></div></div>'
        '<table id="events"><thead><tr><th>event</th><th>key</th><th>label</th><th>detected</th>'
        f"<th>lead (+) / lag (−)</th><th>alerts, or how close</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<p class="note">An alert matches an event with the same key (market: any market alert; no key: any '
        f"alert) that started between {duration_text(scores.before)} before its start and "
        f"{duration_text(scores.after)} after its end; other alerts outside every event are false alarms.</p>"
    )


def render_report(run: BacktestRun, scores: EventScores | None = None) -> str:
    fired = episodes(run.alerts)
    ends = resolved_at(run.alerts)
    rules = {rule.name: rule for rule in run.rules}
    first, last = run.source.first_event, run.source.last_event
    bin_seconds = pick_bin_seconds(first, last) if first and last else 3600
    chart = market_chart(run.index.market_bins(bin_seconds), fired, bin_seconds)
    cards = "".join(alert_card(n, a, rules.get(a.rule), ends.get((a.fingerprint, a.starts_at)))
                    for n, a in enumerate(fired[:MAX_CARDS], 1))
    tiles = [(f"{run.source.stories:,}", "stories"), (f"{run.source.rejected_total:,}", "rows rejected"),
             (f"{len(fired):,}", "alerts fired"), (f"{run.seconds:.1f} s", "run time"),
             (f"{run.rate:,.0f}/s", "stories per second"), (f"{run.cache_hits:,}", "score cache hits")]
    meta = (f"run {escape(run.run_id)} · {escape(str(run.source.path))} · {_when(first)} to {_when(last)} · "
            f"model {escape(run.model.name)} {escape(run.model.version)}")
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=escape(run.source.path.name), meta=meta,
        tiles="".join(f'<div class="tile"><b>{v}</b><span>{k}</span></div>' for v, k in tiles),
        chart=chart, rules=rules_rows(run.rules, run.alerts, run.closeness), events=events_section(scores),
        markers="Markers: alert starts (click for the card)." if fired else "No alert fired, so no markers.",
        alert_count=str(min(len(fired), MAX_CARDS)),
        cards=cards or f'<p class="note" id="nothing-fired">No alert fired. {escape(_nothing_fired(run))}</p>',
        cards_note=(f'<p class="note">Showing the first {MAX_CARDS} of {len(fired)} alerts; all are in '
                    "alerts.json and alerts.csv.</p>") if len(fired) > MAX_CARDS else "",
    )


def _nothing_fired(run: BacktestRun) -> str:
    rules = {rule.name: rule for rule in run.rules}
    return " ".join(f"{name}: {closeness_words(near, rules.get(name))}." for name, near in run.closeness.items())


def _closest(outcome: EventOutcome) -> str:
    if outcome.closest is None:
        return "no matching key had any surprise"
    surprise, needed, rule, scope, key, when = outcome.closest
    return f"closest: surprise {surprise:.2f} of {needed:g} ({rule}, {scope}:{key}, {when:%Y-%m-%d %H:%M})"

