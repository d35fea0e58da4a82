"""Every detector in the package passes the contract checks."""

from __future__ import annotations

import pytest

from detectors import AdwinDetector, BernoulliCusum, PageHinkleyDetector, RateShiftDetector
from detectors.checks import ALL_CHECKS

FACTORIES = {
    "rate_shift known": lambda: RateShiftDetector(0.9, "down", arl0=1e4),
    "rate_shift learnt": lambda: RateShiftDetector(None, "down", arl0=1e4, warmup=500),
    "rate_shift up": lambda: RateShiftDetector(0.1, "up", arl0=1e4, zone=0.02),
    "adwin": lambda: AdwinDetector(0.9),
    "adwin learnt": lambda: AdwinDetector(None, warmup=500),
    "page_hinkley": lambda: PageHinkleyDetector(0.9, threshold=20.0),
    "cusum": lambda: BernoulliCusum(0.9, 0.7, arl0=1e4),
}


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", FACTORIES)
def test_detector_passes_contract(name, check):
    """The detector satisfies this contract check."""
    check(FACTORIES[name])
