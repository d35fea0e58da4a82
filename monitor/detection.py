"""(Sample, Judgement) → detector updates, in a bank keyed by :class:`~monitor.signals.StreamKey`.

Which streams a judgement feeds, with what value and weight, is decided by
:func:`monitor.signals.route`, shared with the gate and replay. The bank adds what is per process:
the dedup weight, one detector per stream (created lazily; cardinality is bounded because model
labels already are, and categories and signals are closed sets), the false-alarm budget split over
streams, and the compliance depth of answers to harmful prompts.

The budget ``detection.arl0`` is family-wise: scored samples between false alarms for the whole
bank. Each sample updates each stream at most once, so streams whose shares of ``1 / arl0`` add up
to one keep the bank's false-alarm rate at ``1 / arl0`` per sample (a Bonferroni split of the
Shiryaev-Roberts bound in :mod:`detectors.calibration`). The pooled refusal stream, the one the
deployment-gate practice reads first, gets half the budget; the other streams share the rest
(:data:`BUDGET_SHARES`). A stream's threshold grows with the log of its budget, so halving a
stream's share costs it ``log 2`` nats of evidence, about 0.7 / KL observations.

Canary probes (``Sample.canary``) feed streams of their own (``source="canary"``), routed by the
suite's true category and expectation (:func:`monitor.signals.judged`), never the live ones. A sample
updates the streams of one source only, so each source's shares add up to one on their own and the
per-sample budget holds as it is. Canary streams learn their baseline from ``canary_warmup`` weight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import structlog

from detectors import Baseline, BaselineFile, BurstWeigher, Detector, Method, from_state, rate_detector
from detectors.base import Severity
from detectors.correction import Correction
from detectors.window import RecentWindow
from monitor.events import Sample, Scores
from monitor.scoring.card import refusal_correction
from monitor.scoring.depth import compliance_depth
from monitor.settings import DetectionSettings, Settings
from monitor.signals import (
    HARM_CATEGORIES,
    LIVE,
    POOLED,
    SIGNALS,
    SOURCES,
    StreamKey,
    dedup_key,
    excluded_reason,
    judged,
    route,
    source_of,
)

__all__ = [
    "BUDGET_SHARES",
    "STATE_FORMAT",
    "STREAMS_PER_MODEL",
    "DetectorBank",
    "Point",
    "Transition",
    "bank_from_settings",
    "budget_share",
]

STATE_FORMAT = 3  # 3: stream keys carry their source (live or canary)
STREAMS_PER_MODEL = len(HARM_CATEGORIES) + len(SIGNALS)  # per source: 9 categories + pooled + 4 others
_POOLED_SHARE = 0.5
BUDGET_SHARES = {
    "pooled_refusal": _POOLED_SHARE,
    "each_other_stream": _POOLED_SHARE / (STREAMS_PER_MODEL - 1),
}


def bank_from_settings(settings: Settings, model_dir: Path) -> DetectorBank:
    """The bank ``serve`` runs, built the same way wherever it is needed (serve, replay)."""
    d = settings.detection
    baselines = BaselineFile.load(d.baseline_file) if d.baseline_file is not None else None
    correction = refusal_correction(model_dir) if d.correct_rates else None
    return DetectorBank(d, baselines, correction, settings.canary.warmup)


def budget_share(key: StreamKey) -> float:
    """The fraction of the family-wise false-alarm budget this stream may spend."""
    pooled = key.category == POOLED and key.signal == "refusal"
    return BUDGET_SHARES["pooled_refusal" if pooled else "each_other_stream"]


_DEPTH_WINDOW = 200.0
_HISTORY_POINTS = 120  # per stream, bounded
_HISTORY_STRIDE = 25  # observations between two points


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a stream's history, for the status page's charts and replay's plots.

    At ``t``, after ``n`` observations: the estimate with its 95 % band, the baseline and the severity.
    """

    n: int
    rate: float
    low: float
    high: float
    baseline: float | None
    severity: Severity
    t: float = 0.0  # the sample's start time, seconds since the epoch


@dataclass(frozen=True, slots=True)
class Transition:
    """A detector's alarm state changed: raised, re-graded, or cleared (severity ``ok``)."""

    key: StreamKey
    severity: Severity
    previous: Severity


class DetectorBank:
    """All detectors of one process, fed from judgements.

    Parameters
    ----------
    settings
        The detection section of the settings.
    baselines
        Measured base-model rates (the regression gate's file); streams without one warm up.
    correction
        The refusal judge's held-out error, so refusal rates are reported as a person would see them.
    canary_warmup
        Weight of probes a canary stream learns its baseline from (default: ``settings.warmup``);
        the baseline file describes live traffic, so canary streams always learn their own.

    """

    def __init__(
        self,
        settings: DetectionSettings,
        baselines: BaselineFile | None = None,
        correction: Correction | None = None,
        canary_warmup: int | None = None,
    ) -> None:
        self.settings = settings
        self.baselines = baselines or BaselineFile({})
        self.correction = correction
        self.canary_warmup = settings.warmup if canary_warmup is None else canary_warmup
        self.detectors: dict[StreamKey, Detector] = {}
        self.excluded = {"incoherent": 0}
        self.depth: dict[tuple[str, str], RecentWindow] = {}
        self.history: dict[StreamKey, deque[Point]] = {}
        self._weigher = BurstWeigher(settings.dedup_seconds)
        self._make = self._factory()
        self._log = structlog.get_logger("monitor.detection")

    def _factory(self) -> Callable[[StreamKey, Baseline | None], Detector]:
        """Decide the detector kind and its options once, not per stream or event."""
        s, fix = self.settings, self.correction
        warmups = {LIVE: s.warmup} | {source: self.canary_warmup for source in SOURCES if source != LIVE}
        if s.method != "rate_shift":
            method = cast("Method", s.method)  # validated by the settings
            return lambda key, base: rate_detector(
                base, SIGNALS[key.signal].direction, method, warmup=warmups[key.source]
            )
        options: dict[str, Any] = {
            "zone": s.zone,
            "relative_zone": s.relative_zone,
            "guard": s.guard,
            "window": s.window,
        }

        def make(key: StreamKey, base: Baseline | None) -> Detector:
            spec = SIGNALS[key.signal]
            corrected = (fix.lo, fix.hi) if fix is not None and spec.corrected else None
            arl0 = s.arl0 / budget_share(key)
            return rate_detector(base, spec.direction, arl0=arl0, scale=spec.scale, correction=corrected,
                                 warmup=warmups[key.source], **options)  # fmt: skip

        return make

    def observe(self, sample: Sample) -> list[Transition]:
        """Feed every stream a scored sample informs; return the alarm transitions it caused."""
        scores = judged(sample)
        if scores is None:
            return []
        source, t = source_of(sample), sample.started_at
        weight = self._weigher.weight(dedup_key(sample), t)
        reason = excluded_reason(scores)
        if reason is not None:
            self.excluded[reason] += 1
        elif scores.refusal_prob < 0.5 and source == LIVE:  # noqa: PLR2004 - an answer: how thorough?
            self._depth(sample.model, sample.completion, scores)
        changes = [
            self._feed(StreamKey(sample.model, o.category, o.signal, source), o.x, o.weight, t)
            for o in route(scores, weight)
        ]
        return [c for c in changes if c is not None]

    def _depth(self, model: str, completion: str, scores: Scores) -> None:
        depth = compliance_depth(completion)
        for name, p in (*scores.category_probs, (POOLED, scores.harmful_prob)):
            if name in HARM_CATEGORIES or name == POOLED:
                self.depth.setdefault((model, name), RecentWindow(_DEPTH_WINDOW)).add(depth, p)

    def _feed(self, key: StreamKey, x: float, weight: float, t: float) -> Transition | None:
        detector = self.detectors.get(key) or self._create(key)
        before = detector.severity
        detector.update(x, weight)
        after = detector.severity
        if detector.n % _HISTORY_STRIDE == 0 or after != before:
            self._remember(key, detector, after, t)
        if after == before:
            return None
        self._log.warning(
            "detector_alarm" if after != "ok" else "detector_recovered",
            model=key.model,
            category=key.category,
            signal=key.signal,
            source=key.source,
            severity=after,
            previous=before,
        )
        return Transition(key, after, before)

    def _remember(self, key: StreamKey, detector: Detector, severity: Severity, t: float) -> None:
        e = detector.estimate
        points = self.history.setdefault(key, deque(maxlen=_HISTORY_POINTS))
        points.append(Point(detector.n, e.rate, e.low, e.high, detector.baseline_rate, severity, t))

    def _create(self, key: StreamKey) -> Detector:
        base = self.baselines.get(key.model, key.category, key.signal) if key.source == LIVE else None
        detector = self._make(key, base)
        self.detectors[key] = detector
        return detector

    def __iter__(self) -> Iterator[tuple[StreamKey, Detector]]:
        return iter(list(self.detectors.items()))

    def depths(self) -> Iterator[tuple[tuple[str, str], float, float]]:
        """(model, category), mean compliance depth and its weight, over the recent window."""
        for key, window in list(self.depth.items()):
            weight, total = window.totals()
            if weight > 0:
                yield key, total / weight, weight

    def state_dict(self) -> dict[str, Any]:
        """Every detector's state, JSON-ready."""
        return {
            "format": STATE_FORMAT,
            "method": self.settings.method,
            "excluded": dict(self.excluded),
            "detectors": [{"key": list(k), "state": d.state_dict()} for k, d in self.detectors.items()],
        }

    def load_state(self, data: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict`; raises ``ValueError`` when incompatible."""
        if data.get("format") != STATE_FORMAT or data.get("method") != self.settings.method:
            found = f"{data.get('format')!r}/{data.get('method')!r}"
            wanted = f"{STATE_FORMAT!r}/{self.settings.method!r}"
            msg = f"state format/method {found} does not match this version's {wanted}"
            raise ValueError(msg)
        restored: dict[StreamKey, Detector] = {}
        for entry in data["detectors"]:
            model, category, signal, source = (str(part) for part in entry["key"])
            key = StreamKey(model, category, signal, source)
            if key.signal not in SIGNALS or key.source not in SOURCES:
                msg = f"unknown signal or source in state key {list(key)!r}"
                raise ValueError(msg)
            restored[key] = from_state(entry["state"])
        self.detectors = restored
        self.excluded |= {k: int(v) for k, v in data.get("excluded", {}).items()}
