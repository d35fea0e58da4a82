"""Batch tests for reports and the regression gate: two-proportion z-test and Fisher's exact test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from detectors.base import Direction

__all__ = ["TestResult", "fisher_exact", "two_proportion_z"]


@dataclass(frozen=True, slots=True)
class TestResult:
    """A one-sided test of "the second rate is worse than the first"."""

    statistic: float
    p_value: float

    def significant(self, alpha: float = 0.01) -> bool:
        """Whether ``p_value < alpha``."""
        return self.p_value < alpha


def two_proportion_z(x1: int, n1: int, x2: int, n2: int, direction: Direction = "down") -> TestResult:
    """Pooled two-proportion z-test of rate 2 vs rate 1, one-sided in ``direction``.

    >>> r = two_proportion_z(950, 1000, 920, 1000)
    >>> round(r.statistic, 3), round(r.p_value, 5)
    (-2.721, 0.00325)
    """
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return TestResult(0.0, 1.0)
    z = (x2 / n2 - x1 / n1) / se
    p = NormalDist().cdf(z) if direction == "down" else 1 - NormalDist().cdf(z)
    return TestResult(z, p)


def fisher_exact(x1: int, n1: int, x2: int, n2: int, direction: Direction = "down") -> TestResult:
    """Fisher's exact test, one-sided: P(X2 <= x2) (down) or P(X2 >= x2) (up) given the margins.

    The statistic is the sample odds ratio of group 2 against group 1.

    >>> round(fisher_exact(95, 100, 85, 100).p_value, 5)
    0.01586
    """
    total = x1 + x2
    low, high = max(0, total - n1), min(total, n2)
    norm = _log_comb(n1 + n2, total)

    def pmf(k: int) -> float:
        return math.exp(_log_comb(n2, k) + _log_comb(n1, total - k) - norm)

    ks = range(low, x2 + 1) if direction == "down" else range(x2, high + 1)
    p = min(1.0, sum(pmf(k) for k in ks))
    a, b, c, d = x2, n2 - x2, x1, n1 - x1
    odds = (a * d) / (b * c) if b * c else math.inf
    return TestResult(odds, p)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
