"""The admin port's ``/`` page: rates against baseline and active alarms, for people without Grafana.

Rendered on the server; the page reloads itself every few seconds (no script needed).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from monitor import __version__

__all__ = ["render_status"]

_STYLE = """body{font:14px system-ui,sans-serif;margin:2rem;color:#1d2330}
table{border-collapse:collapse;width:100%}
th,td{padding:.35rem .6rem;border-bottom:1px solid #dde;text-align:left}
th{background:#f3f4f8}.ok{color:#1a7f37}.warning{background:#fff8c5}.high{background:#ffe2c2}
.critical{background:#ffd2d2;font-weight:600}.bar{display:inline-block;height:.6rem;background:#4a6cf7}
.muted{color:#667}"""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _row(key: tuple[str, str, str], detector: Any) -> str:
    model, category, signal = (html.escape(part) for part in key)
    e, band = detector.estimate, detector.severity
    base = detector.baseline_rate
    width = max(1, round(100 * e.rate))
    return (
        f'<tr class="{band}"><td>{model}</td><td>{category}</td><td>{signal}</td><td>{_pct(base)}</td>'
        f'<td><span class="bar" style="width:{width}px"></span> {_pct(e.rate)} '
        f'<span class="muted">[{_pct(e.low)}, {_pct(e.high)}]</span></td>'
        f"<td>{detector.n}</td><td>{band}</td></tr>"
    )


def render_status(
    streams: Callable[[], Iterable[tuple[tuple[str, str, str], Any]]], refresh_seconds: int = 5
) -> str:
    """The HTML page."""
    rows = sorted(streams())
    alarms = [(k, d) for k, d in rows if d.severity != "ok"]
    body = (
        "".join(_row(k, d) for k, d in rows)
        or '<tr><td colspan="7" class="muted">No scored traffic yet.</td></tr>'
    )
    summary = (
        f'<p class="critical" id="alarms">{len(alarms)} active alarm(s): '
        + ", ".join(html.escape(f"{k[0]}/{k[1]}/{k[2]} {d.severity}") for k, d in alarms)
        + "</p>"
        if alarms
        else '<p class="ok" id="alarms">No active alarms.</p>'
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" '
        f'content="{refresh_seconds}"><title>LLM safety monitor</title><style>{_STYLE}</style></head><body>'
        f"<h1>LLM safety monitor</h1>{summary}<table><thead><tr>"
        "<th>model</th><th>category</th><th>signal</th>"
        f"<th>baseline</th><th>current [95% CI]</th><th>observations</th><th>severity</th></tr></thead>"
        f'<tbody id="streams">{body}</tbody></table><p class="muted">v{__version__}; reloads every '
        f'{refresh_seconds} s; <a href="/metrics">metrics</a></p></body></html>'
    )
