"""The admin port's ``/`` page: every stream's state at a glance, for people without Grafana.

One row per stream, grouped by model, alarmed streams first, live traffic before canary probes:
phase (with the warm-up still needed), baseline and its source, the current estimate with its 95 %
interval, the recent rate,
observations, severity, and a small chart of the stream's recent history. The charts are inline SVG
drawn here, so the page needs no script; it reloads itself every few seconds. Work per request is
bounded (the bank keeps at most 120 history points per stream) and split: :func:`snapshot` copies the
bank on the event loop, between updates, and :func:`render_status` formats the copy in a thread, so
a large page never stalls the proxy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Protocol

from detectors import Detector
from detectors.base import Estimate, Phase, Severity
from monitor import __version__
from monitor.detection import Point
from monitor.signals import LIVE, POOLED, SIGNALS, StreamKey

__all__ = ["Snapshot", "StatusView", "StreamState", "render_status", "snapshot"]

_RANK: dict[Severity, int] = {"ok": 0, "warning": 1, "high": 2, "critical": 3}
_PHASE_ORDER = {"alarmed": 0, "armed": 1, "warming": 2}
_SIGNAL_ORDER = {name: i for i, name in enumerate(SIGNALS)}
_COLOURS: dict[Severity, str] = {
    "ok": "#1a7f37",
    "warning": "#bf8700",
    "high": "#d4650b",
    "critical": "#cf222e",
}
_W, _H, _PAD = 180, 40, 3  # plot size in px; the padding keeps marks inside the frame
_AXIS = 36  # room right of the plot for the y range
_COLUMNS = ("model", "category", "signal", "source", "phase", "baseline (source)", "estimate [95% CI]",
            "recent", "observations", "severity", "recent history")  # fmt: skip

_STYLE = """body{font:13px system-ui,sans-serif;margin:1.2rem 1.5rem;color:#1d2330}
h1{font-size:1.4rem;margin:0 0 .4rem}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;width:100%}
th,td{padding:.25rem .5rem;border-bottom:1px solid #dde;text-align:left;vertical-align:middle}
th,td{white-space:nowrap}
thead th{background:#f3f4f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.group th{background:#e8ebf5;font-size:1rem;padding-top:.5rem}
tr.alarmed td{background:#fff5f5}.ok{color:#1a7f37}.muted{color:#667;font-size:.85em}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.85em;font-weight:600}
.badge.ok{background:#dafbe1}.badge.warning{background:#fff8c5;color:#7d4e00}
.badge.high{background:#ffe2c2;color:#953800}.badge.critical{background:#cf222e;color:#fff}
td.source.canary{color:#6639ba;font-weight:600}.phase.warming{color:#667}.phase.armed{color:#1a7f37}.phase.alarmed{color:#cf222e;font-weight:600}
#alarms{padding:.5rem .8rem;border-radius:.3rem}#alarms.ok{background:#dafbe1}
#alarms.alarm{background:#ffebe9;border:1px solid #cf222e}svg{display:block}
table.depth{width:auto}"""


class StatusView(Protocol):
    """What the status page reads from the detector bank."""

    def __iter__(self) -> Iterator[tuple[StreamKey, Detector]]:
        """Every stream and its detector."""
        ...

    @property
    def history(self) -> Mapping[StreamKey, Sequence[Point]]:
        """Each stream's recent points, oldest first."""
        ...

    def depths(self) -> Iterable[tuple[tuple[str, str], float, float]]:
        """(model, category), mean compliance depth and its weight."""
        ...


@dataclass(frozen=True, slots=True)
class StreamState:
    """What the page shows of one stream, read from its detector at one moment."""

    key: StreamKey
    phase: Phase
    severity: Severity
    warmup_remaining: float
    baseline_rate: float | None
    baseline_source: str | None
    estimate: Estimate
    recent: Estimate
    n: int
    change_start: int | None
    points: tuple[Point, ...]

    @classmethod
    def read(cls, key: StreamKey, d: Detector, points: Iterable[Point]) -> StreamState:
        """Copy what the page needs, so it can be rendered while the detector moves on."""
        return cls(key, d.phase, d.severity, d.warmup_remaining, d.baseline_rate, d.baseline_source,
                   d.estimate, d.recent, d.n, d.change_start, tuple(points))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole page's data; ``streams`` is ``None`` when scoring is disabled."""

    streams: tuple[StreamState, ...] | None
    depths: tuple[tuple[tuple[str, str], float, float], ...] = ()


def snapshot(view: StatusView | None) -> Snapshot:
    """Read the bank (cheap: bounded copies), on the thread that updates it."""
    if view is None:
        return Snapshot(None)
    history = view.history
    streams = tuple(StreamState.read(k, d, history.get(k, ())) for k, d in view)
    return Snapshot(streams, tuple(view.depths()))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _order(st: StreamState) -> tuple[int, int, bool, int, bool, str]:
    """Alarmed first (worst first), then armed, then warming; live before canary; pooled first."""
    key = st.key
    return (_PHASE_ORDER[st.phase], -_RANK[st.severity], key.source != LIVE,
            _SIGNAL_ORDER.get(key.signal, 99), key.category != POOLED, key.category)  # fmt: skip


def _model_order(group: tuple[str, list[StreamState]]) -> tuple[int, str]:
    """Models with the worst alarm first, then by name."""
    model, rows = group
    return (-max(_RANK[st.severity] for st in rows), model)


def _phase(d: StreamState) -> str:
    if d.phase == "warming":
        text = f"warming: {math.ceil(d.warmup_remaining):,} more"
    elif d.phase == "alarmed" and d.change_start is not None:
        text = f'alarmed <span class="muted">since #{d.change_start:,}</span>'
    else:
        text = d.phase
    return f'<span class="phase {d.phase}">{text}</span>'


def _baseline(d: StreamState) -> str:
    if d.baseline_rate is None:
        return '<span class="muted">learning</span>'
    source = html.escape(d.baseline_source or "?")
    return f'{_pct(d.baseline_rate)} <span class="muted">({source})</span>'


def _interval(rate: float, low: float, high: float) -> str:
    return f'{_pct(rate)} <span class="muted">[{_pct(low)}, {_pct(high)}]</span>'


def _scale(points: Sequence[Point]) -> tuple[float, float]:
    """The y range: the data's, padded, within [0, 1], never narrower than 2 points."""
    values = [v for p in points for v in (p.low, p.high, p.baseline) if v is not None]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.1, 0.01)
    return max(0.0, low - pad), min(1.0, high + pad)


def _chart(key: StreamKey, points: Sequence[Point]) -> str:
    """An inline SVG of the recent rate: its 95 % band, the rate, the baseline and alarm marks."""
    label = html.escape(f"{'/'.join(key)} recent history", quote=True)
    head = (
        f'<svg class="chart" width="{_W + _AXIS}" height="{_H}" viewBox="0 0 {_W + _AXIS} {_H}" role="img" '
        f'aria-label="{label}">'
    )
    frame = f'<rect x="0.5" y="0.5" width="{_W - 1}" height="{_H - 1}" fill="#fafbfd" stroke="#dde"/>'
    if len(points) < 2:  # noqa: PLR2004 - a line needs two points
        note = (
            f'<text x="{_W / 2}" y="{_H / 2 + 4}" text-anchor="middle" font-size="10" fill="#889">'
            "collecting</text>"
        )
        return f"{head}{frame}{note}</svg>"
    first, last = points[0].n, points[-1].n
    bottom, top = _scale(points)

    def x(n: int) -> float:
        return _PAD + (_W - 2 * _PAD) * (n - first) / max(last - first, 1)

    def y(v: float) -> float:
        return _H - _PAD - (_H - 2 * _PAD) * (v - bottom) / max(top - bottom, 1e-9)

    def line(pairs: Iterable[tuple[int, float]]) -> str:
        return " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in pairs)

    band = line([(p.n, p.high) for p in points] + [(p.n, p.low) for p in reversed(points)])
    parts = [head, frame, f'<polygon class="band" points="{band}" fill="#4a6cf7" fill-opacity="0.18"/>']
    base = [(p.n, p.baseline) for p in points if p.baseline is not None]
    if base:
        parts.append(f'<polyline class="baseline" points="{line(base)}" fill="none" stroke="#555" '
                     'stroke-width="1" stroke-dasharray="3,2"/>')  # fmt: skip
    parts.append(f'<polyline class="rate" points="{line((p.n, p.rate) for p in points)}" fill="none" '
                 'stroke="#3451d1" stroke-width="1.5"/>')  # fmt: skip
    parts.extend(
        f'<circle class="alarm {p.severity}" cx="{x(p.n):.1f}" cy="{y(p.rate):.1f}" r="2.2" '
        f'fill="{_COLOURS[p.severity]}"/>'
        for p in points
        if p.severity != "ok"
    )
    parts.append(
        f'<text x="{_W + 3}" y="9" font-size="9" fill="#667">{100 * top:.3g}%</text>'
        f'<text x="{_W + 3}" y="{_H - 2}" font-size="9" fill="#667">{100 * bottom:.3g}%</text>'
        f"<title>observations {first:,} to {last:,}</title></svg>"
    )
    return "".join(parts)


def _row(d: StreamState) -> str:
    model, category, signal, source = (html.escape(part) for part in d.key)
    e, r, band = d.estimate, d.recent, d.severity
    cells = (
        f'<td>{model}</td><td>{category}</td><td>{signal}</td><td class="source {source}">{source}</td>'
        f"<td>{_phase(d)}</td>"
        f'<td class="num">{_baseline(d)}</td><td class="num">{_interval(e.rate, e.low, e.high)}</td>'
        f'<td class="num" title="95% CI {_pct(r.low)} to {_pct(r.high)}">{_pct(r.rate)}</td>'
        f'<td class="num">{d.n:,}</td>'
        f'<td><span class="badge {band}">{band}</span></td><td>{_chart(d.key, d.points)}</td>'
    )
    return f'<tr class="stream {d.phase}">{cells}</tr>'


def _summary(rows: Sequence[StreamState]) -> str:
    alarms = sorted((st for st in rows if st.severity != "ok"), key=_order)
    counts = {p: sum(st.phase == p for st in rows) for p in _PHASE_ORDER}
    tally = f'<span class="muted">{len(rows)} streams: ' + ", ".join(f"{n} {p}" for p, n in counts.items())
    tally += "</span>"
    if not alarms:
        return f'<p class="ok" id="alarms">No active alarms. {tally}</p>'
    listed = ", ".join(
        f'<span class="badge {st.severity}">{html.escape("/".join(st.key))} {st.severity}</span>'
        for st in alarms
    )
    return (
        f'<p class="alarm" id="alarms"><strong>{len(alarms)} active alarm(s):</strong> {listed} {tally}</p>'
    )


def _streams(rows: Sequence[StreamState]) -> str:
    by_model = sorted(rows, key=lambda st: st.key.model)
    groups = [(m, sorted(g, key=_order)) for m, g in groupby(by_model, key=lambda st: st.key.model)]
    return "".join(
        f'<tbody class="model"><tr class="group"><th colspan="{len(_COLUMNS)}">{html.escape(model)}</th></tr>'
        + "".join(_row(st) for st in items)
        + "</tbody>"
        for model, items in sorted(groups, key=_model_order)
    )


def _empty(text: str) -> str:
    return f'<tbody><tr><td colspan="{len(_COLUMNS)}" class="muted">{text}</td></tr></tbody>'


def _depths(depths: Iterable[tuple[tuple[str, str], float, float]]) -> str:
    rows = sorted(depths, key=lambda r: (r[0][0], r[0][1] != POOLED, r[0][1]))
    if not rows:
        return ""
    body = "".join(
        f'<tr><td>{html.escape(model)}</td><td>{html.escape(category)}</td><td class="num">{mean:.2f}</td>'
        f'<td class="num">{weight:,.1f}</td></tr>'
        for (model, category), mean, weight in rows
    )
    return (
        '<h2>Compliance depth</h2><p class="muted">How thorough recent answers to harmful prompts are '
        "(0 = none, 1 = long, stepwise and specific), weighted by the prompt's probability of the "
        'category.</p><table class="depth" id="depth"><thead><tr><th>model</th><th>category</th>'
        f"<th>mean depth</th><th>weight</th></tr></thead><tbody>{body}</tbody></table>"
    )


def render_status(state: Snapshot, refresh_seconds: int = 5) -> str:
    """The HTML page, from a :func:`snapshot`; pure, so it may run in a worker thread."""
    rows = state.streams or ()
    if state.streams is None:
        streams, depths = _empty("Scoring is disabled."), ""
    elif not rows:
        streams, depths = _empty("No scored traffic yet."), ""
    else:
        streams, depths = _streams(rows), _depths(state.depths)
    head = "".join(f"<th>{name}</th>" for name in _COLUMNS)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" '
        f'content="{refresh_seconds}"><title>LLM safety monitor</title><style>{_STYLE}</style></head><body>'
        f"<h1>LLM safety monitor</h1>{_summary(rows)}"
        f'<table id="streams"><thead><tr>{head}</tr></thead>{streams}</table>{depths}'
        '<p class="muted">Charts: the recent rate (blue line) with its 95% band, the baseline (dashed) '
        f"and alarms (dots, coloured by severity). v{html.escape(__version__)}; reloads every "
        f'{refresh_seconds} s; <a href="/metrics">metrics</a></p></body></html>'
    )
