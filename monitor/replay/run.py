"""Samples → the same detector bank ``serve`` runs, in time order: alarms and per-stream traces.

Routing, dedup weights and exclusions are the bank's own (:mod:`monitor.signals`), so a replay of a
sidecar's log raises the alarms the sidecar raised. Each stream's trace is sampled about
``points`` times over the replay (and at every alarm transition), so memory stays bounded however
long the log is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Severity
from monitor.detection import DetectorBank, Point, Transition
from monitor.events import Sample
from monitor.signals import StreamKey

__all__ = ["Alarm", "Replay", "Trace", "replay"]


@dataclass(slots=True)
class Trace:
    """A stream's history over the replay."""

    points: list[Point] = field(default_factory=list)

    def time_of(self, n: int) -> float | None:
        """When the stream had seen ``n`` observations (the first recorded point at or after it)."""
        return next((p.t for p in self.points if p.n >= n), None)


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm transition: raised, re-graded or cleared (``severity`` ``ok``), with its evidence."""

    time: float
    key: StreamKey
    severity: Severity
    previous: Severity
    n: int
    change_start: int | None
    change_time: float | None
    estimate: float
    baseline: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"time": self.time, **self.key._asdict(), "severity": self.severity, "previous": self.previous,
                "n": self.n, "change_start": self.change_start, "change_time": self.change_time,
                "estimate": self.estimate, "baseline": self.baseline}  # fmt: skip


@dataclass(slots=True)
class Replay:
    """What a replay found: every transition in order, and each stream's trace."""

    alarms: list[Alarm] = field(default_factory=list)
    traces: dict[StreamKey, Trace] = field(default_factory=dict)
    samples: int = 0


def _record(bank: DetectorBank, result: Replay, t: float, keys: Iterable[StreamKey]) -> None:
    for key in keys:
        d = bank.detectors[key]
        trace = result.traces.setdefault(key, Trace())
        if trace.points and trace.points[-1].n == d.n:
            continue
        e = d.estimate
        trace.points.append(Point(d.n, e.rate, e.low, e.high, d.baseline_rate, d.severity, t))


def _alarm(bank: DetectorBank, result: Replay, t: float, change: Transition) -> Alarm:
    d = bank.detectors[change.key]
    begin = d.change_start
    trace = result.traces.get(change.key, Trace())
    when = trace.time_of(begin) if begin is not None else None
    return Alarm(t, change.key, change.severity, change.previous, d.n, begin, when, d.estimate.rate,
                 d.baseline_rate)  # fmt: skip


def replay(
    samples: Iterable[Sample], bank: DetectorBank, total: int, points: int = 400, progress: Any = None
) -> Replay:
    """Feed ``samples`` (already in time order) to ``bank``; ``total`` sizes the trace stride."""
    result, stride = Replay(), max(1, total // points)
    for number, sample in enumerate(samples, start=1):
        changes = bank.observe(sample)
        if number % stride == 0 or changes:
            _record(bank, result, sample.started_at, [k for k, _ in bank])
        result.alarms.extend(_alarm(bank, result, sample.started_at, c) for c in changes)
        result.samples = number
        if progress is not None:
            progress.update(1)
    return result
