"""The Bernoulli CUSUM that knows both rates: the theoretical best, used as the oracle in benchmarks."""

from __future__ import annotations

import math
from typing import Any

from detectors.base import Direction, Severity
from detectors.calibration import threshold
from detectors.severity import ORDER, severity

__all__ = ["BernoulliCusum"]


class BernoulliCusum:
    """Page's CUSUM (Page 1954) for a shift from ``p0`` to a known ``p1``.

    Among all detectors with the same false-alarm rate it minimises the worst-case delay for that
    exact shift (Moustakides 1986), which makes it the yardstick for detectors that do not know ``p1``.

    Parameters
    ----------
    p0, p1
        Pre- and post-change rates.
    arl0
        Expected observations between false alarms.

    Examples
    --------
    >>> detector = BernoulliCusum(p0=0.95, p1=0.85)
    >>> for _ in range(13):  # each failure adds log(0.15 / 0.05); the threshold is log(1e6)
    ...     detector.update(0.0)
    >>> detector.drift_detected
    True

    """

    def __init__(self, p0: float, p1: float, arl0: float = 1e6) -> None:
        self.p0 = p0
        self.p1 = p1
        self.arl0 = arl0
        self._reset()

    def _reset(self) -> None:
        self._a = math.log(self.p1 / self.p0)
        self._b = math.log((1 - self.p1) / (1 - self.p0))
        self._h = threshold(self.arl0)
        self._s = 0.0
        self._alarm = False

    def update(self, x: float) -> None:
        """Feed one observation; after an alarm the statistic restarts from zero."""
        if self._alarm:
            self._s, self._alarm = 0.0, False
        self._s = max(0.0, self._s + x * self._a + (1.0 - x) * self._b)
        self._alarm = self._s >= self._h

    @property
    def drift_detected(self) -> bool:
        """Whether the latest update crossed the threshold."""
        return self._alarm

    @property
    def direction(self) -> Direction:
        """The direction of the shift it looks for."""
        return "down" if self.p1 < self.p0 else "up"

    @property
    def severity(self) -> Severity:
        """The band of the known shift, when alarmed."""
        if not self._alarm:
            return "ok"
        level = severity(self.p0, self.p1, self.direction)
        return level if ORDER[level] else "warning"

    def state_dict(self) -> dict[str, Any]:
        """Parameters and state."""
        return {
            "kind": "cusum",
            "params": {"p0": self.p0, "p1": self.p1, "arl0": self.arl0},
            "state": {"s": self._s, "alarm": self._alarm},
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> BernoulliCusum:
        """Rebuild from :meth:`state_dict`."""
        detector = cls(**data["params"])
        detector._s, detector._alarm = float(data["state"]["s"]), bool(data["state"]["alarm"])
        return detector
