"""Thin adapters that give river's drift detectors our protocol: direction, baseline, severity, state.

River's detectors are two-sided and stateless about "good" and "bad"; the adapter keeps an alarm
only for drifts in the bad direction and holds it until river reports a drift back.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from detectors.base import Direction, Estimate, Phase, Severity
from detectors.intervals import wilson
from detectors.severity import severity

__all__ = ["RiverAdapter"]


class RiverAdapter:
    """Base of the river adapters; subclasses choose the river detector in ``_make``.

    Parameters
    ----------
    baseline
        Expected rate, or ``None`` to learn it from the first ``warmup`` observations.
    direction
        ``"down"`` or ``"up"``: which drifts raise an alarm.
    warmup
        Observations before any alarm, and for learning the baseline.
    halflife
        Observations over which the reported estimate forgets.

    """

    kind = "river"

    def __init__(
        self,
        baseline: float | None = None,
        direction: Direction = "down",
        warmup: int = 1000,
        halflife: float = 1000.0,
    ) -> None:
        self.baseline = baseline
        self.direction = direction
        self.warmup = warmup
        self.halflife = halflife
        self._reset()

    def _make(self) -> Any:
        raise NotImplementedError

    def _reset(self) -> None:
        self._river = self._make()
        self._decay = 0.5 ** (1.0 / self.halflife)
        self._n = 0
        self._sum = 0.0
        self._ew_n = 0.0
        self._ew_sum = 0.0
        self._alarm = False
        self._base = self.baseline

    def update(self, x: float, weight: float = 1.0) -> None:
        """Feed one observation; river's detectors are unweighted, so a weight below 0.5 skips it."""
        if weight < 0.5:  # noqa: PLR2004 - the nearest unweighted equivalent
            return
        self._n += 1
        self._sum += x
        self._ew_n = self._ew_n * self._decay + 1.0
        self._ew_sum = self._ew_sum * self._decay + x
        self._river.update(x)
        if self._base is None:
            if self._n >= self.warmup:
                self._base = self._sum / self._n
            return
        if self._n > self.warmup and self._river.drift_detected:
            current = self._ew_sum / self._ew_n
            worse = current < self._base if self.direction == "down" else current > self._base
            self._alarm = worse

    @property
    def drift_detected(self) -> bool:
        """True from a drift in the bad direction until a drift back."""
        return self._alarm

    @property
    def baseline_rate(self) -> float | None:
        """The baseline in use (given or learnt)."""
        return self._base

    @property
    def baseline_source(self) -> str | None:
        """``given`` or ``warmup``; ``None`` while warming."""
        return None if self._base is None else "given" if self.baseline is not None else "warmup"

    @property
    def phase(self) -> Phase:
        """``warming``, ``armed`` or ``alarmed``."""
        return "alarmed" if self._alarm else "armed" if self._base is not None else "warming"

    @property
    def warmup_remaining(self) -> float:
        """Observations still needed before alarms are possible."""
        return float(max(self.warmup - self._n, 0))

    @property
    def statistic(self) -> float:
        """River exposes no statistic: 1 while alarmed, else 0."""
        return float(self._alarm)

    @property
    def change_start(self) -> int | None:
        """River does not locate the change."""
        return None

    @property
    def recent(self) -> Estimate:
        """The exponentially weighted recent rate."""
        return self.estimate

    @property
    def n(self) -> int:
        """Observations seen."""
        return self._n

    @property
    def estimate(self) -> Estimate:
        """Recent rate (exponentially weighted) with a Wilson interval."""
        low, high = wilson(self._ew_sum, self._ew_n)
        return Estimate(self._ew_sum / self._ew_n if self._ew_n else 0.0, low, high, self._ew_n)

    @property
    def severity(self) -> Severity:
        """Band of the change while alarmed (``ok`` while it is inside the ok band)."""
        if not self._alarm or self._base is None:
            return "ok"
        return severity(self._base, self.estimate.rate, self.direction)

    def state_dict(self) -> dict[str, Any]:
        """Parameters, our counters, and river's detector (pickled, base64)."""
        return {
            "kind": self.kind,
            "params": {
                "baseline": self.baseline,
                "direction": self.direction,
                "warmup": self.warmup,
                "halflife": self.halflife,
            },
            "state": {
                "n": self._n,
                "sum": self._sum,
                "ew_n": self._ew_n,
                "ew_sum": self._ew_sum,
                "alarm": self._alarm,
                "base": self._base,
                "river": base64.b64encode(pickle.dumps(self._river)).decode(),
            },
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> RiverAdapter:
        """Rebuild from :meth:`state_dict` (our own files only: it unpickles)."""
        if data.get("kind") != cls.kind:
            msg = f"not a {cls.kind} state: {data.get('kind')!r}"
            raise ValueError(msg)
        detector = cls(**data["params"])
        state = data["state"]
        detector._n, detector._sum = int(state["n"]), float(state["sum"])
        detector._ew_n, detector._ew_sum = float(state["ew_n"]), float(state["ew_sum"])
        detector._alarm, detector._base = bool(state["alarm"]), state["base"]
        detector._river = pickle.loads(base64.b64decode(state["river"]))  # noqa: S301 - our own checkpoint
        return detector
