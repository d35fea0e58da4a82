"""ADWIN (Bifet & Gavaldà 2007) through river, with our protocol."""

from __future__ import annotations

from typing import Any

from river import drift

from detectors.base import Direction
from detectors.river_adapter import RiverAdapter

__all__ = ["AdwinDetector"]


class AdwinDetector(RiverAdapter):
    """River's ADWIN, alarming only on drifts in ``direction``.

    Parameters
    ----------
    delta
        ADWIN's confidence parameter (river's default 0.002).
    baseline, direction, warmup, halflife
        As for :class:`~detectors.river_adapter.RiverAdapter`.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> detector = AdwinDetector(baseline=0.95)
    >>> for t in range(6000):
    ...     detector.update(float(rng.random() < (0.95 if t < 3000 else 0.6)))
    >>> detector.drift_detected, detector.severity
    (True, 'critical')

    """

    kind = "adwin"

    def __init__(
        self,
        baseline: float | None = None,
        direction: Direction = "down",
        warmup: int = 1000,
        halflife: float = 1000.0,
        delta: float = 0.002,
    ) -> None:
        self.delta = delta
        super().__init__(baseline, direction, warmup, halflife)

    def _make(self) -> Any:
        return drift.ADWIN(delta=self.delta)  # type: ignore[no-untyped-call]

    def state_dict(self) -> dict[str, Any]:
        """As the base, plus ``delta``."""
        data = super().state_dict()
        data["params"]["delta"] = self.delta
        return data
