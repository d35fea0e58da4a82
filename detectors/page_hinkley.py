"""Page-Hinkley (Page 1954; Hinkley 1971) through river, with our protocol."""

from __future__ import annotations

from typing import Any

from river import drift

from detectors.base import Direction
from detectors.river_adapter import RiverAdapter

__all__ = ["PageHinkleyDetector"]


class PageHinkleyDetector(RiverAdapter):
    """River's Page-Hinkley test in one direction.

    Parameters
    ----------
    delta
        Tolerated drift of the mean per observation.
    threshold
        Alarm threshold on the cumulative deviation.
    baseline, direction, warmup, halflife
        As for :class:`~detectors.river_adapter.RiverAdapter`.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(2)
    >>> detector = PageHinkleyDetector(baseline=0.95, threshold=20.0)
    >>> for t in range(6000):
    ...     detector.update(float(rng.random() < (0.95 if t < 3000 else 0.5)))
    >>> detector.drift_detected
    True

    """

    kind = "page_hinkley"

    def __init__(
        self,
        baseline: float | None = None,
        direction: Direction = "down",
        warmup: int = 1000,
        halflife: float = 1000.0,
        delta: float = 0.005,
        threshold: float = 50.0,
    ) -> None:
        self.delta = delta
        self.threshold = threshold
        super().__init__(baseline, direction, warmup, halflife)

    def _make(self) -> Any:
        return drift.PageHinkley(delta=self.delta, threshold=self.threshold, mode=self.direction)

    def state_dict(self) -> dict[str, Any]:
        """As the base, plus ``delta`` and ``threshold``."""
        data = super().state_dict()
        data["params"].update(delta=self.delta, threshold=self.threshold)
        return data
