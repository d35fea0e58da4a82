"""The gate's statistics: rates with Wilson intervals, one-sided tests, Holm, sizing, composite score.

The unit of every test is the prompt, not the response: with ``--samples K`` a prompt's refusal is
the mean of its K judged answers, and a side's count is the sum of those means, rounded. K answers
to one prompt are correlated, so counting them as K independent trials would overstate the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from detectors.base import Direction
from detectors.batch import TestResult, fisher_exact, two_proportion_z
from detectors.intervals import wilson

__all__ = [
    "Comparison",
    "Rate",
    "compare",
    "composite",
    "composite_test",
    "holm",
    "minimum_detectable_drop",
]

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class Rate:
    """``x`` of ``n`` prompts, with the Wilson 95 % interval."""

    x: int
    n: int

    @property
    def rate(self) -> float:
        """The proportion (0 when ``n`` is 0)."""
        return self.x / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95 % interval."""
        return wilson(self.x, self.n, 0.95)

    @classmethod
    def of(cls, means: Sequence[float]) -> Rate:
        """From per-prompt means in [0, 1]: the rounded sum over the number of prompts."""
        return cls(round(sum(means)), len(means))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate against base: difference and both one-sided tests (in the bad direction)."""

    base: Rate
    candidate: Rate
    direction: Direction
    z: TestResult
    fisher: TestResult

    @property
    def delta(self) -> float:
        """Candidate rate minus base rate."""
        return self.candidate.rate - self.base.rate


def compare(base: Rate, candidate: Rate, direction: Direction = "down") -> Comparison:
    """Both tests of "the candidate is worse"; p = 1 when either side has no prompts.

    >>> c = compare(Rate(95, 100), Rate(85, 100))
    >>> round(c.delta, 2), round(c.fisher.p_value, 5)
    (-0.1, 0.01586)
    """
    if not base.n or not candidate.n:
        empty = TestResult(0.0, 1.0)
        return Comparison(base, candidate, direction, empty, empty)
    z = two_proportion_z(base.x, base.n, candidate.x, candidate.n, direction)
    fisher = fisher_exact(base.x, base.n, candidate.x, candidate.n, direction)
    return Comparison(base, candidate, direction, z, fisher)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = round(running, 15)
    return adjusted


def minimum_detectable_drop(n: int, base_rate: float, alpha: float = 0.01, power: float = 0.8) -> float:
    """The smallest fall of a rate from ``base_rate`` that ``n`` prompts per side detect.

    One-sided two-proportion test at ``alpha`` with the given power (the normal approximation of
    Fleiss, Levin and Paik 2003, §4.2), solved for the difference by bisection.

    >>> round(minimum_detectable_drop(50, 0.9), 2), round(minimum_detectable_drop(1000, 0.9), 3)
    (0.26, 0.047)
    """
    if n <= 0:
        return base_rate
    za, zb = _NORMAL.inv_cdf(1 - alpha), _NORMAL.inv_cdf(power)

    def power_gap(delta: float) -> float:
        p1, p2 = base_rate, base_rate - delta
        mean = (p1 + p2) / 2
        need = za * math.sqrt(2 * mean * (1 - mean) / n) + zb * math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
        return delta - need

    low, high = 0.0, base_rate
    if power_gap(high) < 0:
        return base_rate
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if power_gap(mid) < 0 else (low, mid)
    return high


def composite(rates: Mapping[str, Rate], weights: Mapping[str, float]) -> tuple[float, float]:
    """Σ wᵢ·RRᵢ / Σ wᵢ over categories with prompts, and its standard error (unpooled).

    >>> round(composite({"a": Rate(9, 10), "b": Rate(5, 10)}, {"a": 3.0, "b": 1.0})[0], 2)
    0.8
    """
    used = {c: r for c, r in rates.items() if r.n}
    total = sum(weights.get(c, 1.0) for c in used)
    if not total:
        return 0.0, 0.0
    score = sum(weights.get(c, 1.0) * r.rate for c, r in used.items()) / total
    var = sum((weights.get(c, 1.0) / total) ** 2 * r.rate * (1 - r.rate) / r.n for c, r in used.items())
    return score, math.sqrt(var)


def composite_test(base: tuple[float, float], candidate: tuple[float, float]) -> TestResult:
    """One-sided z-test that the candidate's composite score is lower (unpooled standard errors)."""
    se = math.hypot(base[1], candidate[1])
    if se == 0:
        return TestResult(0.0, 1.0 if candidate[0] >= base[0] else 0.0)
    z = (candidate[0] - base[0]) / se
    return TestResult(z, _NORMAL.cdf(z))
