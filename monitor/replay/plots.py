"""Per-stream PNG plots (matplotlib, optional) and an ``index.html`` that shows them with the alarms.

Each plot is the stream's estimate over time with its 95 % band, the baseline (dashed), alarm marks
coloured by severity and recovery marks in green. Without matplotlib no PNG is written, and the page
says so; the alarm table is written either way.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.replay.run import Alarm, Replay, Trace
from monitor.signals import StreamKey

__all__ = ["MATPLOTLIB_MISSING", "iso", "plot_name", "write_index", "write_plots"]

MATPLOTLIB_MISSING = "matplotlib is not installed, so no plots were drawn (pip install matplotlib)"
_COLOURS = {"warning": "#bf8700", "high": "#d4650b", "critical": "#cf222e", "ok": "#1a7f37"}


def plot_name(key: StreamKey) -> str:
    """A file name for the stream's plot, safe on every file system."""
    return "__".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in key) + ".png"


def iso(t: float | None) -> str:
    """Seconds since the epoch as UTC ISO 8601, to the second."""
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pyplot() -> Any:
    try:
        import matplotlib as mpl  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:
        return None
    return plt


def _plot(plt: Any, key: StreamKey, trace: Trace, alarms: Sequence[Alarm], path: Path) -> None:
    times = [datetime.fromtimestamp(p.t, UTC) for p in trace.points]
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.fill_between(times, [p.low for p in trace.points], [p.high for p in trace.points], color="#4a6cf7",
                    alpha=0.2, linewidth=0, label="95% interval")  # fmt: skip
    ax.plot(times, [p.rate for p in trace.points], color="#3451d1", linewidth=1.5, label="estimate")
    base = [(t, p.baseline) for t, p in zip(times, trace.points, strict=True) if p.baseline is not None]
    if base:
        ax.plot([t for t, _ in base], [b for _, b in base], "--", color="#555", linewidth=1, label="baseline")
    for alarm in alarms:
        colour = _COLOURS[alarm.severity]
        ax.axvline(datetime.fromtimestamp(alarm.time, UTC), color=colour, linewidth=1.2,
                   linestyle="-" if alarm.severity != "ok" else ":")  # fmt: skip
    ax.set_title(f"{key.model} / {key.category} / {key.signal} ({key.source})", fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("rate")
    ax.legend(loc="lower left", fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_plots(result: Replay, out: Path) -> dict[StreamKey, str] | None:
    """One PNG per stream with at least two points; ``None`` when matplotlib is missing."""
    plt = _pyplot()
    if plt is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for key, trace in result.traces.items():
        if len(trace.points) < 2:  # noqa: PLR2004 - a line needs two points
            continue
        name = plot_name(key)
        _plot(plt, key, trace, [a for a in result.alarms if a.key == key], out / name)
        written[key] = name
    return written


def _alarm_rows(alarms: Sequence[Alarm]) -> str:
    rows = "".join(
        f'<tr class="{a.severity}"><td>{iso(a.time)}</td>'
        + "".join(f"<td>{html.escape(part)}</td>" for part in a.key)
        + f"<td>{a.previous} &rarr; <b>{a.severity}</b></td><td>{iso(a.change_time)}"
        f" (#{a.change_start if a.change_start is not None else '-'})</td></tr>"
        for a in alarms
    )
    head = "".join(f"<th>{c}</th>" for c in ("when", "model", "category", "signal", "source", "severity",
                                              "change_start"))  # fmt: skip
    return f'<table id="alarms"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def write_index(result: Replay, plots: dict[StreamKey, str] | None, out: Path, title: str) -> Path:
    """``index.html``: the alarm table, then every plot, alarmed streams first."""
    alarmed = {a.key for a in result.alarms}
    if plots is None:
        figures = f'<p class="note">{html.escape(MATPLOTLIB_MISSING)}.</p>'
    else:
        ordered = sorted(plots.items(), key=lambda kv: (kv[0] not in alarmed, kv[0]))
        figures = "".join(
            f'<figure><img src="{html.escape(name)}" alt="{html.escape("/".join(key))}">'
            f"<figcaption>{html.escape('/'.join(key))}</figcaption></figure>"
            for key, name in ordered
        )
    summary = (
        f"{result.samples:,} samples replayed; {sum(a.severity != 'ok' for a in result.alarms)} alarm(s)."
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>body{{font:13px system-ui,sans-serif;margin:1.2rem}}"
        "table{border-collapse:collapse}td,th{padding:.2rem .5rem;border-bottom:1px solid #dde}"
        "tr.critical td,tr.high td{background:#ffebe9}tr.warning td{background:#fff8c5}"
        "figure{display:inline-block;margin:.5rem}img{width:640px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{summary}</p>{_alarm_rows(result.alarms)}{figures}</body></html>"
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
