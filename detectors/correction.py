"""Correcting a rate for the judge's own error (Rogan & Gladen 1978), with probabilities.

A classifier that reports ``p`` per response has, on held-out data, a mean ``hi`` on true positives
and ``lo`` on true negatives. The mean of ``p`` over a stream whose true rate is ``pi`` is then
``lo + (hi - lo) * pi``, so ``pi = (m - lo) / (hi - lo)``. With hard labels, ``hi`` is the
sensitivity and ``lo`` is one minus the specificity: the classic Rogan-Gladen estimator.

The map is affine and increasing, so detection on the observed scale is unchanged; what changes is
what a person reads: the estimate, the baseline and the relative drop that sets the severity.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IDENTITY", "Correction"]


@dataclass(frozen=True, slots=True)
class Correction:
    """Observed mean score → estimated true rate.

    Parameters
    ----------
    lo
        Mean score on true negatives (held out).
    hi
        Mean score on true positives (held out).

    Examples
    --------
    >>> round(Correction(lo=0.1, hi=0.9)(0.5), 3), Correction(0.1, 0.9)(0.05)
    (0.5, 0.0)

    """

    lo: float = 0.0
    hi: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.lo < self.hi <= 1.0:
            msg = f"need 0 <= lo < hi <= 1, got lo={self.lo}, hi={self.hi}"
            raise ValueError(msg)

    def __call__(self, observed: float) -> float:
        """The corrected rate, clipped to [0, 1]."""
        return min(max((observed - self.lo) / (self.hi - self.lo), 0.0), 1.0)


IDENTITY = Correction()
