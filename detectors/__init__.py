"""Pure change detectors: numbers in, verdicts out. No I/O, asyncio or Prometheus.

The service builds its detectors with :func:`rate_detector`; notebooks and batch jobs can too::

    >>> from detectors import rate_detector
    >>> detector = rate_detector(baseline=0.95, direction="down", zone=0.03)
    >>> detector.update(1.0)
    >>> detector.drift_detected, detector.severity
    (False, 'ok')
"""

from __future__ import annotations

from typing import Any, Literal

from detectors.adwin import AdwinDetector
from detectors.base import Detector, Direction, Estimate, Severity
from detectors.baseline import Baseline, BaselineFile
from detectors.batch import TestResult, fisher_exact, two_proportion_z
from detectors.calibration import arl_for_budget, arl_per_days, threshold
from detectors.cusum import BernoulliCusum
from detectors.dedup import BurstWeigher, DuplicateWeigher
from detectors.intervals import wilson
from detectors.page_hinkley import PageHinkleyDetector
from detectors.rate_shift import RateShiftDetector
from detectors.severity import overall, severity

__all__ = [
    "AdwinDetector",
    "Baseline",
    "BaselineFile",
    "BernoulliCusum",
    "BurstWeigher",
    "Detector",
    "Direction",
    "DuplicateWeigher",
    "Estimate",
    "Method",
    "PageHinkleyDetector",
    "RateShiftDetector",
    "Severity",
    "TestResult",
    "arl_for_budget",
    "arl_per_days",
    "fisher_exact",
    "from_state",
    "overall",
    "rate_detector",
    "severity",
    "threshold",
    "two_proportion_z",
    "wilson",
]

Method = Literal["rate_shift", "adwin", "page_hinkley"]
_KINDS: dict[str, Any] = {
    "rate_shift": RateShiftDetector,
    "adwin": AdwinDetector,
    "page_hinkley": PageHinkleyDetector,
}


def rate_detector(
    baseline: float | Baseline | None = None,
    direction: Direction = "down",
    method: Method = "rate_shift",
    **options: Any,
) -> RateShiftDetector | AdwinDetector | PageHinkleyDetector:
    """A detector configured as the service configures it.

    Parameters
    ----------
    baseline
        A known rate (or :class:`Baseline` with its sample size), or ``None`` to learn it in a warm-up.
    direction
        ``"down"`` for refusals of harmful prompts; ``"up"`` for false refusals, toxicity, incoherence.
    method
        ``"rate_shift"`` (default; calibrated false alarms), or river's ``"adwin"`` / ``"page_hinkley"``.
    options
        Passed to the detector, e.g. ``arl0=1e6, zone=0.03`` for ``rate_shift``.

    """
    if method not in _KINDS:
        msg = f"method must be one of {sorted(_KINDS)}, got {method!r}"
        raise ValueError(msg)
    if method != "rate_shift" and isinstance(baseline, Baseline):
        baseline = baseline.rate
    detector: RateShiftDetector | AdwinDetector | PageHinkleyDetector = _KINDS[method](
        baseline=baseline, direction=direction, **options
    )
    return detector


def from_state(data: dict[str, Any]) -> RateShiftDetector | AdwinDetector | PageHinkleyDetector:
    """Rebuild any detector from its ``state_dict()``; ``ValueError`` when the kind is unknown."""
    kind = data.get("kind")
    if kind not in _KINDS:
        msg = f"unknown detector kind {kind!r}"
        raise ValueError(msg)
    detector: RateShiftDetector | AdwinDetector | PageHinkleyDetector = _KINDS[kind].from_state(data)
    return detector
