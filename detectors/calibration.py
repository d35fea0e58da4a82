"""Thresholds from a false-alarm budget stated in user terms.

A detector here is a union of ``k`` one-sided CUSUMs (Page 1954) whose increments are log-likelihood
ratios. Each CUSUM statistic is at most the log of the matching Shiryaev-Roberts statistic
``R_n`` (Roberts 1966), and ``R_n - n`` is a martingale under the null (a supermartingale for any
[0, 1]-valued data with the null mean, because the Bernoulli is the worst case for bounded data:
Hoeffding 1963; Waudby-Smith & Ramdas 2024). Optional stopping at the first time any of the ``k``
statistics reaches ``h`` gives ``k * E[N] >= E[sum R_N] >= e^h``, so::

    h = log(k * ARL0)    guarantees    E[N] >= ARL0 observations between false alarms.

Because that bound holds per observation, it adds across streams: a bank of detectors that each
have ``ARL0 = A`` raises at most ``N / A`` false alarms in expectation over ``N`` observations in
total, however the traffic splits over (model, category, signal). A budget like "one false alarm
per 30 days across the fleet" is therefore ``A`` = observations the whole bank sees in 30 days.
"""

from __future__ import annotations

import math

__all__ = ["arl_for_budget", "arl_per_days", "threshold"]

_SECONDS_PER_DAY = 86_400


def threshold(arl0: float, detectors: int = 1) -> float:
    """Alarm threshold on the log scale for ``detectors`` parallel CUSUMs and a target ARL0.

    >>> round(threshold(1e6, 10), 3)
    16.118
    """
    if arl0 < 1 or detectors < 1:
        msg = f"need arl0 >= 1 and detectors >= 1, got arl0={arl0}, detectors={detectors}"
        raise ValueError(msg)
    return math.log(detectors * arl0)


def arl_for_budget(false_alarms: float, per_observations: float) -> float:
    """Turn "at most ``false_alarms`` per ``per_observations``" into ARL0.

    >>> arl_for_budget(1, 1e6)
    1000000.0
    """
    if false_alarms <= 0 or per_observations <= 0:
        msg = f"budget must be positive, got {false_alarms} per {per_observations}"
        raise ValueError(msg)
    return per_observations / false_alarms


def arl_per_days(
    days: float, requests_per_second: float, sample_rate: float = 1.0, signals: int = 1
) -> float:
    """Turn "one false alarm per ``days`` across the bank" into ARL0.

    The service's budget counts scored samples (it splits it over streams itself), so ``signals``
    is 1 there; a hand-built set of detectors that each see every sample passes their number.

    >>> arl_per_days(30, 10, 0.1)
    2592000.0
    """
    return days * _SECONDS_PER_DAY * requests_per_second * sample_rate * signals
