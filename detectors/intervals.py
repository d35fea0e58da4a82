"""Confidence intervals for proportions."""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["wilson", "z_quantile"]


def z_quantile(confidence: float) -> float:
    """Two-sided standard-normal quantile: 0.95 → 1.96."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) for ``successes`` out of ``n``; (0, 1) when ``n`` is 0.

    >>> [round(v, 4) for v in wilson(95, 100)]
    [0.8882, 0.9785]
    """
    if n <= 0:
        return 0.0, 1.0
    z = z_quantile(confidence)
    p = min(max(successes / n, 0.0), 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
