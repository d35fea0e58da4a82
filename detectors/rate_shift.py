"""A sequential rate-shift detector that does not need to know the post-change rate.

It runs one CUSUM (Page 1954) per alternative on a geometric grid of "bad" rates beyond the
indifference zone, and alarms when any reaches ``h = log(k * ARL0)`` (see
:mod:`detectors.calibration` for why that keeps the false-alarm budget). A grid CUSUM of this kind is
the discretised generalised-likelihood-ratio CUSUM of Lorden (1971); Lai (1998) shows its delay is
within a log factor of the oracle that knows the post-change rate.

Signals are Bernoulli (refused or not) or bounded in [0, 1] (a calibrated probability); for bounded
data the Bernoulli likelihood ratio is a supermartingale, so the same threshold stays valid. Weights
in [0, 1] (soft routing, near-duplicates) scale each increment, which keeps that property.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import Direction, Estimate, Phase, Severity
from detectors.baseline import Baseline, guarded_null
from detectors.calibration import threshold
from detectors.correction import IDENTITY, Correction
from detectors.intervals import wilson
from detectors.severity import Scale, severity
from detectors.window import RecentWindow

__all__ = ["RateShiftDetector"]

_STATE_VERSION = 2
_GRID_TOP = 0.99
_WARMUP_Z = 3.29  # two-sided p < 0.001: a change inside the warm-up window


class RateShiftDetector:
    """Alarm when a rate moves past the indifference zone in the bad ``direction``.

    Parameters
    ----------
    baseline
        The expected rate: a number, a :class:`Baseline` (with its sample size when measured), or
        ``None`` to learn it from the first ``warmup`` weight of observations.
    direction
        ``"down"`` alarms on a falling rate (refusals of harmful prompts), ``"up"`` on a rising one
        (false refusals, toxicity, incoherence).
    arl0
        False-alarm budget: expected observations between false alarms (1e6 = one per million).
    zone
        Indifference zone in rate points: changes smaller than this never alarm.
    relative_zone
        Indifference zone as a fraction of the baseline; the larger of the two zones applies.
    warmup
        Weight of observations used to estimate the baseline when it is ``None``. The window is
        split in halves; when they differ at p < 0.001 the first half is discarded and the warm-up
        goes on, so a change during warm-up is not learnt as the baseline.
    guard
        One-sided confidence with which an estimated baseline is moved toward the bad side, so its
        sampling error does not spend the false-alarm budget (0.5: not moved).
    grid_ratio
        Spacing of the alternatives (each is this multiple of the previous "bad" rate).
    grid_span
        The largest alternative is this multiple of the null's "bad" rate (capped at 0.99); shifts
        beyond it are still detected, by the top alternative.
    confidence
        Level of the reported confidence intervals (Wilson).
    window
        Weight of the recent window that :attr:`recent` reports.
    scale
        How severity reads the change: ``relative``, ``complement`` or ``absolute``
        (:mod:`detectors.severity`).
    correction
        ``(lo, hi)``: the judge's mean score on true negatives and positives, so reported rates
        estimate what a person would see (:mod:`detectors.correction`); ``None`` reports raw means.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> detector = RateShiftDetector(baseline=0.95, direction="down", arl0=1e6)
    >>> for t in range(20_000):
    ...     detector.update(float(rng.random() < (0.95 if t < 10_000 else 0.80)))
    ...     if detector.drift_detected:
    ...         break
    >>> t > 10_000, detector.severity, detector.change_start > 9_900, detector.phase
    (True, 'warning', True, 'alarmed')

    """

    def __init__(
        self,
        baseline: float | Baseline | None = None,
        direction: Direction = "down",
        arl0: float = 1e6,
        zone: float = 0.0,
        relative_zone: float = 0.0,
        warmup: float = 5000,
        guard: float = 0.95,
        grid_ratio: float = math.sqrt(2),
        grid_span: float = 16.0,
        confidence: float = 0.95,
        window: float = 500.0,
        scale: Scale = "relative",
        correction: tuple[float, float] | None = None,
    ) -> None:
        if direction not in ("down", "up"):
            msg = f"direction must be 'down' or 'up', got {direction!r}"
            raise ValueError(msg)
        self.baseline = baseline
        self.direction = direction
        self.arl0 = arl0
        self.zone = zone
        self.relative_zone = relative_zone
        self.warmup = warmup
        self.guard = guard
        self.grid_ratio = grid_ratio
        self.grid_span = grid_span
        self.confidence = confidence
        self.window = window
        self.scale = scale
        self.correction = correction
        self._reset()

    def _reset(self) -> None:
        self._flip = self.direction == "down"  # internally we always watch a "bad" rate going up
        self._fix = IDENTITY if self.correction is None else Correction(*self.correction)
        self._n = 0
        self._w = 0.0
        self._bad = 0.0
        self._recent = RecentWindow(self.window)
        self._warm = [0.0, 0.0]  # weight and bad of the warm-up window
        self._half: list[float] | None = None
        self.warmup_restarts = 0
        self._alarm = False
        self._alarm_at = 0
        self._recovery = 0.0
        self._start = (0, 0.0, 0.0)
        self._rec = (0.0, 0.0)
        self._arm(None if self.baseline is None else _as_baseline(self.baseline))

    def _arm(self, base: Baseline | None) -> None:
        """Choose the null, the grid and the threshold once the baseline is known."""
        self._base = base
        if base is None:
            self._s: list[float] = []
            self._starts: list[tuple[int, float, float]] = []
            return
        zone = max(self.zone, self.relative_zone * base.rate)
        null = guarded_null(base, self.direction, zone, self.guard)
        q0 = 1.0 - null if self._flip else null
        top = min(_GRID_TOP, max(q0 * self.grid_span, q0 + 0.01))
        grid = []
        q1 = max(q0 * 1.25, q0 + 0.005)
        while q1 < top:
            grid.append(q1)
            q1 *= self.grid_ratio
        grid.append(top if q0 < top else 1 - 1e-9)
        self._q0 = q0
        self._a = [math.log(q / q0) for q in grid]
        self._b = [math.log((1 - q) / (1 - q0)) for q in grid]
        self._s = [0.0] * len(grid)
        self._starts = [self._here()] * len(grid)
        self._h = threshold(self.arl0, len(grid))

    def _here(self) -> tuple[int, float, float]:
        return (self._n, self._w, self._bad)

    def update(self, x: float, weight: float = 1.0) -> None:
        """Feed one observation in [0, 1]; ``weight`` in [0, 1] scales its evidence."""
        y = 1.0 - x if self._flip else x
        self._n += 1
        self._w += weight
        self._bad += weight * y
        self._recent.add(y, weight)
        if self._base is None:
            self._warm_up(y, weight)
            return
        if self._alarm:
            self._update_recovery(y, weight)
            return
        s, a, b, ny = self._s, self._a, self._b, 1.0 - y
        for k in range(len(s)):
            v = s[k] + weight * (y * a[k] + ny * b[k])
            if v <= 0.0:
                v = 0.0
                self._starts[k] = self._here()
            s[k] = v
        if max(s) >= self._h:
            self._raise_alarm()

    def _warm_up(self, y: float, weight: float) -> None:
        warm = self._warm
        warm[0] += weight
        warm[1] += weight * y
        if self._half is None and warm[0] >= self.warmup / 2:
            self._half = list(warm)
        if warm[0] < self.warmup or self._half is None:
            return
        first, second = self._half, [warm[0] - self._half[0], warm[1] - self._half[1]]
        if _changed(first, second):
            # A change inside the window: learning it would hide it. Keep the later half only.
            self.warmup_restarts += 1
            self._warm, self._half = second, None
            return
        bad = warm[1]
        self._arm(Baseline.measured(warm[0] - bad if self._flip else bad, warm[0], "warmup"))

    def _raise_alarm(self) -> None:
        leader = max(range(len(self._s)), key=self._s.__getitem__)
        self._start = self._starts[leader]
        self._alarm, self._alarm_at, self._recovery = True, self._n, 0.0
        q_alarm = max((self._bad - self._start[2]) / max(self._w - self._start[1], 1e-9), self._q0 * 1.25)
        q_alarm = min(q_alarm, 1 - 1e-9)
        # Recovery: a CUSUM for "back at the null" against "stays at the alarmed rate".
        self._rec = (math.log(self._q0 / q_alarm), math.log((1 - self._q0) / (1 - q_alarm)))

    def _update_recovery(self, y: float, weight: float) -> None:
        a, b = self._rec
        self._recovery = max(0.0, self._recovery + weight * (y * a + (1.0 - y) * b))
        if self._recovery >= self._h:
            self._alarm = False
            self._s = [0.0] * len(self._s)
            self._starts = [self._here()] * len(self._s)

    @property
    def drift_detected(self) -> bool:
        """True from the alarm until the rate is shown to be back within the zone."""
        return self._alarm

    @property
    def warmed_up(self) -> bool:
        """Whether the baseline is known (given, or learnt from the warm-up)."""
        return self._base is not None

    @property
    def phase(self) -> Phase:
        """``warming``, ``armed`` or ``alarmed``."""
        return "alarmed" if self._alarm else "armed" if self._base is not None else "warming"

    @property
    def warmup_remaining(self) -> float:
        """Weight of observations still needed to learn the baseline (0 once armed)."""
        return 0.0 if self._base is not None else max(self.warmup - self._warm[0], 0.0)

    @property
    def statistic(self) -> float:
        """The largest CUSUM statistic, as a fraction of the threshold (1.0 = alarm)."""
        return max(self._s) / self._h if self._s else 0.0

    @property
    def baseline_rate(self) -> float | None:
        """The baseline in use (given or learnt), on the reported (corrected) scale."""
        return None if self._base is None else self._fix(self._base.rate)

    @property
    def baseline_source(self) -> str | None:
        """Where the baseline came from, or ``None`` while warming."""
        return None if self._base is None else self._base.source

    @property
    def change_start(self) -> int | None:
        """While in alarm: the observation index at which the change most likely began."""
        return self._start[0] + 1 if self._alarm else None

    @property
    def n(self) -> int:
        """Observations seen."""
        return self._n

    @property
    def estimate(self) -> Estimate:
        """The rate since the change while alarmed, else over the recent window."""
        if not self._alarm:
            return self.recent
        return self._interval(self._w - self._start[1], self._bad - self._start[2])

    @property
    def recent(self) -> Estimate:
        """The rate over the most recent ``window`` weight of observations."""
        return self._interval(*self._recent.totals())

    def _interval(self, n: float, bad: float) -> Estimate:
        low, high = wilson(bad, n, self.confidence)
        rate = bad / n if n > 0 else 0.0
        if self._flip:
            rate, low, high = 1.0 - rate, 1.0 - high, 1.0 - low
        fix = self._fix
        return Estimate(fix(rate), fix(low), fix(high), n)

    @property
    def severity(self) -> Severity:
        """``ok`` without an alarm; in alarm, the band of the change.

        The band is read at the confidence bound nearest the baseline, so severity states how bad the
        change is at least, and escalates as evidence accumulates rather than overstating at first.
        An alarm whose change is, at that bound, still inside the ``ok`` band (a significant but
        small drift, such as a slow daily wobble) stays ``ok``: it shows as ``alarmed`` in the phase,
        but nothing is sent to on-call until the change is at least ``warning``.
        """
        base = self.baseline_rate
        if not self._alarm or base is None:
            return "ok"
        estimate = self.estimate
        conservative = estimate.high if self.direction == "down" else estimate.low
        return severity(base, conservative, self.direction, self.scale)

    def state_dict(self) -> dict[str, Any]:
        """Parameters and state as JSON-ready values."""
        base = self._base
        return {
            "kind": "rate_shift",
            "version": _STATE_VERSION,
            "params": {
                "baseline": None if self.baseline is None else _baseline_dict(_as_baseline(self.baseline)),
                "direction": self.direction,
                "arl0": self.arl0,
                "zone": self.zone,
                "relative_zone": self.relative_zone,
                "warmup": self.warmup,
                "guard": self.guard,
                "grid_ratio": self.grid_ratio,
                "grid_span": self.grid_span,
                "confidence": self.confidence,
                "window": self.window,
                "scale": self.scale,
                "correction": None if self.correction is None else list(self.correction),
            },
            "state": {
                "learnt": None if base is None else _baseline_dict(base),
                "n": self._n,
                "w": self._w,
                "bad": self._bad,
                "recent": self._recent.state(),
                "warm": list(self._warm),
                "half": self._half,
                "warmup_restarts": self.warmup_restarts,
                "s": list(self._s),
                "starts": [list(p) for p in self._starts],
                "alarm": self._alarm,
                "alarm_at": self._alarm_at,
                "recovery": self._recovery,
                "start": list(self._start),
                "rec": list(self._rec),
            },
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RateShiftDetector:
        """Rebuild a detector from :meth:`state_dict`; raises ``ValueError`` if incompatible."""
        if data.get("kind") != "rate_shift" or data.get("version") != _STATE_VERSION:
            found = f"{data.get('kind')!r} version {data.get('version')!r}"
            msg = f"not a rate_shift state of version {_STATE_VERSION}: {found}"
            raise ValueError(msg)
        params = dict(data["params"])
        if params["baseline"] is not None:
            params["baseline"] = Baseline(**params["baseline"])
        if params["correction"] is not None:
            params["correction"] = tuple(params["correction"])
        detector = cls(**params)
        detector._restore(data["state"])
        return detector

    def _restore(self, state: dict[str, Any]) -> None:
        self._n, self._w, self._bad = int(state["n"]), float(state["w"]), float(state["bad"])
        if state["learnt"] is not None and self._base is None:
            self._arm(Baseline(**state["learnt"]))
        self._recent.restore(state["recent"])
        self._warm = [float(v) for v in state["warm"]]
        self._half = None if state["half"] is None else [float(v) for v in state["half"]]
        self.warmup_restarts = int(state["warmup_restarts"])
        if len(state["s"]) != len(self._s):
            msg = "state grid does not match the parameters"
            raise ValueError(msg)
        self._s = [float(v) for v in state["s"]]
        self._starts = [(int(n), float(w), float(b)) for n, w, b in state["starts"]]
        self._alarm, self._alarm_at = bool(state["alarm"]), int(state["alarm_at"])
        self._recovery = float(state["recovery"])
        n, w, b = state["start"]
        self._start = (int(n), float(w), float(b))
        a, c = state["rec"]
        self._rec = (float(a), float(c))


def _changed(first: list[float], second: list[float]) -> bool:
    """Two-proportion z-test between the warm-up halves (weights as counts)."""
    (n1, b1), (n2, b2) = first, second
    if n1 <= 0 or n2 <= 0:
        return False
    pooled = (b1 + b2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    return variance > 0 and abs(b1 / n1 - b2 / n2) / math.sqrt(variance) > _WARMUP_Z


def _as_baseline(value: float | Baseline) -> Baseline:
    return value if isinstance(value, Baseline) else Baseline(float(value))


def _baseline_dict(base: Baseline) -> dict[str, Any]:
    return {"rate": base.rate, "n": base.n, "source": base.source}
