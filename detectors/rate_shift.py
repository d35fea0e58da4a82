"""A sequential rate-shift detector that does not need to know the post-change rate.

It runs one CUSUM (Page 1954) per alternative on a geometric grid of "bad" rates beyond the
indifference zone, and alarms when any reaches ``h = log(k * ARL0)`` (see
:mod:`detectors.calibration` for why that keeps the false-alarm budget). A grid CUSUM of this kind is
the discretised generalised-likelihood-ratio CUSUM of Lorden (1971); Lai (1998) shows its delay is
within a log factor of the oracle that knows the post-change rate.

Signals are Bernoulli (refused or not) or bounded in [0, 1] (toxicity); for bounded data the
Bernoulli likelihood ratio is a supermartingale, so the same threshold stays valid.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.base import Direction, Estimate, Severity
from detectors.baseline import Baseline, guarded_null
from detectors.calibration import threshold
from detectors.intervals import wilson
from detectors.severity import ORDER, severity

__all__ = ["RateShiftDetector"]

_STATE_VERSION = 1
_GRID_TOP = 0.99


class RateShiftDetector:
    """Alarm when a rate moves past the indifference zone in the bad ``direction``.

    Parameters
    ----------
    baseline
        The expected rate: a number, a :class:`Baseline` (with its sample size when measured), or
        ``None`` to learn it from the first ``warmup`` observations.
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
        Observations used to estimate the baseline when it is ``None``.
    guard
        One-sided confidence with which an estimated baseline is moved toward the bad side, so its
        sampling error does not spend the false-alarm budget.
    grid_ratio
        Spacing of the alternatives (each is this multiple of the previous "bad" rate).
    grid_span
        The largest alternative is this multiple of the null's "bad" rate (capped at 0.99); shifts
        beyond it are still detected, by the top alternative.
    confidence
        Level of the reported confidence intervals (Wilson).
    halflife
        Observations over which the pre-alarm estimate forgets (exponential weighting).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> detector = RateShiftDetector(baseline=0.95, direction="down", arl0=1e6)
    >>> for t in range(20_000):
    ...     detector.update(float(rng.random() < (0.95 if t < 10_000 else 0.80)))
    ...     if detector.drift_detected:
    ...         break
    >>> t > 10_000, detector.severity, detector.change_start > 9_900
    (True, 'warning', True)

    """

    def __init__(
        self,
        baseline: float | Baseline | None = None,
        direction: Direction = "down",
        arl0: float = 1e6,
        zone: float = 0.0,
        relative_zone: float = 0.0,
        warmup: int = 5000,
        guard: float = 0.95,
        grid_ratio: float = math.sqrt(2),
        grid_span: float = 16.0,
        confidence: float = 0.95,
        halflife: float = 1000.0,
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
        self.halflife = halflife
        self._reset()

    def _reset(self) -> None:
        self._flip = self.direction == "down"  # internally we always watch a "bad" rate going up
        self._decay = 0.5 ** (1.0 / self.halflife)
        self._n = 0
        self._bad = 0.0
        self._ew_n = 0.0
        self._ew_bad = 0.0
        self._alarm = False
        self._alarm_at = 0
        self._recovery = 0.0
        self._start_n = 0
        self._start_bad = 0.0
        self._arm(None if self.baseline is None else _as_baseline(self.baseline))

    def _arm(self, base: Baseline | None) -> None:
        """Choose the null, the grid and the threshold once the baseline is known."""
        self._base = base
        if base is None:
            self._s: list[float] = []
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
        self._starts = [(self._n, self._bad)] * len(grid)
        self._h = threshold(self.arl0, len(grid))

    def update(self, x: float, weight: float = 1.0) -> None:
        """Feed one observation in [0, 1]; ``weight`` in [0, 1] down-weights near-duplicates."""
        y = 1.0 - x if self._flip else x
        self._n += 1
        self._bad += y
        self._ew_n = self._ew_n * self._decay + 1.0
        self._ew_bad = self._ew_bad * self._decay + y
        if self._base is None:
            if self._n >= self.warmup:
                self._arm(
                    Baseline.measured(self._n - self._bad if self._flip else self._bad, self._n, "warmup")
                )
            return
        if self._alarm:
            self._update_recovery(y, weight)
            return
        s, a, b, ny = self._s, self._a, self._b, 1.0 - y
        for k in range(len(s)):
            v = s[k] + weight * (y * a[k] + ny * b[k])
            if v <= 0.0:
                v = 0.0
                self._starts[k] = (self._n, self._bad)
            s[k] = v
        if max(s) >= self._h:
            self._raise_alarm()

    def _raise_alarm(self) -> None:
        leader = max(range(len(self._s)), key=self._s.__getitem__)
        self._start_n, self._start_bad = self._starts[leader]
        self._alarm, self._alarm_at, self._recovery = True, self._n, 0.0
        q_alarm = max((self._bad - self._start_bad) / max(self._n - self._start_n, 1), self._q0 * 1.25)
        q_alarm = min(q_alarm, 1 - 1e-9)
        # Recovery: a CUSUM for "back at the null" against "stays at the alarmed rate".
        self._rec_a = math.log(self._q0 / q_alarm)
        self._rec_b = math.log((1 - self._q0) / (1 - q_alarm))

    def _update_recovery(self, y: float, weight: float) -> None:
        self._recovery = max(0.0, self._recovery + weight * (y * self._rec_a + (1.0 - y) * self._rec_b))
        if self._recovery >= self._h:
            self._alarm = False
            self._s = [0.0] * len(self._s)
            self._starts = [(self._n, self._bad)] * len(self._s)

    @property
    def drift_detected(self) -> bool:
        """True from the alarm until the rate is shown to be back within the zone."""
        return self._alarm

    @property
    def warmed_up(self) -> bool:
        """Whether the baseline is known (given, or learnt from the warm-up)."""
        return self._base is not None

    @property
    def statistic(self) -> float:
        """The largest CUSUM statistic, as a fraction of the threshold (1.0 = alarm)."""
        return max(self._s) / self._h if self._s else 0.0

    @property
    def baseline_rate(self) -> float | None:
        """The baseline in use (given or learnt), in the signal's own scale."""
        return None if self._base is None else self._base.rate

    @property
    def change_start(self) -> int | None:
        """While in alarm: the observation index at which the change most likely began."""
        return self._start_n + 1 if self._alarm else None

    @property
    def n(self) -> int:
        """Observations seen."""
        return self._n

    @property
    def estimate(self) -> Estimate:
        """The current rate and its Wilson interval: since the change in alarm, else recent traffic."""
        if self._alarm:
            bad, n = self._bad - self._start_bad, float(self._n - self._start_n)
        else:
            bad, n = self._ew_bad, self._ew_n
        low, high = wilson(bad, n, self.confidence)
        rate = bad / n if n else 0.0
        if self._flip:
            return Estimate(1.0 - rate, 1.0 - high, 1.0 - low, n)
        return Estimate(rate, low, high, n)

    @property
    def severity(self) -> Severity:
        """``ok`` without an alarm; in alarm, the band of the change (at least ``warning``).

        The band is read at the confidence bound nearest the baseline, so severity states how bad the
        change is at least, and escalates as evidence accumulates rather than overstating at first.
        """
        if not self._alarm or self._base is None:
            return "ok"
        estimate = self.estimate
        conservative = estimate.high if self.direction == "down" else estimate.low
        level = severity(self._base.rate, conservative, self.direction)
        return level if ORDER[level] >= ORDER["warning"] else "warning"

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
                "halflife": self.halflife,
            },
            "state": {
                "learnt": None if base is None else _baseline_dict(base),
                "n": self._n,
                "bad": self._bad,
                "ew_n": self._ew_n,
                "ew_bad": self._ew_bad,
                "s": list(self._s),
                "starts": [list(p) for p in getattr(self, "_starts", [])],
                "alarm": self._alarm,
                "alarm_at": self._alarm_at,
                "recovery": self._recovery,
                "start_n": self._start_n,
                "start_bad": self._start_bad,
                "rec": [getattr(self, "_rec_a", 0.0), getattr(self, "_rec_b", 0.0)],
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
        detector = cls(**params)
        state = data["state"]
        detector._n, detector._bad = int(state["n"]), float(state["bad"])
        if state["learnt"] is not None and detector._base is None:
            detector._arm(Baseline(**state["learnt"]))
        detector._ew_n, detector._ew_bad = float(state["ew_n"]), float(state["ew_bad"])
        if len(state["s"]) != len(detector._s):
            msg = "state grid does not match the parameters"
            raise ValueError(msg)
        detector._s = [float(v) for v in state["s"]]
        detector._starts = [(int(n), float(b)) for n, b in state["starts"]]
        detector._alarm, detector._alarm_at = bool(state["alarm"]), int(state["alarm_at"])
        detector._recovery = float(state["recovery"])
        detector._start_n, detector._start_bad = int(state["start_n"]), float(state["start_bad"])
        detector._rec_a, detector._rec_b = (float(v) for v in state["rec"])
        return detector


def _as_baseline(value: float | Baseline) -> Baseline:
    return value if isinstance(value, Baseline) else Baseline(float(value))


def _baseline_dict(base: Baseline) -> dict[str, Any]:
    return {"rate": base.rate, "n": base.n, "source": base.source}
