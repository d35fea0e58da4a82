"""Down-weighting of near-duplicate observations, which break the independence a budget assumes.

A burst of near-identical prompts from one user yields strongly correlated outcomes: 2,000 of them
may carry the information of a few dozen independent ones. Giving the ``c``-th recent occurrence
of a key the weight ``1/c`` caps a burst's total influence at about ``log(burst size)``
observations. Weights in [0, 1] keep every likelihood-ratio increment a supermartingale, so the
false-alarm guarantee of :mod:`detectors.calibration` still holds.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["BurstWeigher", "DuplicateWeigher"]


class DuplicateWeigher:
    """Weight ``1/c`` for the ``c``-th occurrence of a key within a burst.

    A burst ends when the key has not been seen for ``window`` observations, so a prompt that is
    merely popular over days is not silenced; memory holds at most ``window`` keys.

    Parameters
    ----------
    window
        Observations after which an unseen key is forgotten.

    Examples
    --------
    >>> weigher = DuplicateWeigher(window=100)
    >>> [weigher.weight(k) for k in ("a", "b", "a", "a", None)]
    [1.0, 1.0, 0.5, 0.3333333333333333, 1.0]

    """

    def __init__(self, window: int = 10_000) -> None:
        self.window = window
        self._seen: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._t = 0

    def weight(self, key: str | None) -> float:
        """The weight of one more observation with ``key`` (``None``: unique, weight 1)."""
        self._t += 1
        while self._seen and next(iter(self._seen.values()))[1] <= self._t - self.window:
            self._seen.popitem(last=False)
        if key is None:
            return 1.0
        count = self._seen.pop(key, (0, 0))[0] + 1
        self._seen[key] = (count, self._t)
        return 1.0 / count


class BurstWeigher:
    """Weight ``1/c`` for an observation whose key was seen ``c - 1`` times in the last ``seconds``.

    Keyed by who sent the request, this discounts one client's burst of different prompts, whose
    outcomes are correlated, while a steady client and a prompt that many clients send keep their
    weight. The window slides in time, so a burst's discount lasts only as long as the burst.
    Memory is bounded: at most ``max_keys`` keys are tracked, the least recently seen evicted first.

    Parameters
    ----------
    seconds
        How far back an earlier request of the same key makes this one part of a burst.
    max_keys
        Keys tracked at once.

    Examples
    --------
    >>> weigher = BurstWeigher(seconds=60)
    >>> [round(weigher.weight("u", t), 3) for t in (0, 1, 2, 100)], weigher.weight(None, 100)
    ([1.0, 0.5, 0.333, 1.0], 1.0)

    """

    def __init__(self, seconds: float = 60.0, max_keys: int = 100_000) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._seen: OrderedDict[str, list[float]] = OrderedDict()

    def weight(self, key: str | None, t: float) -> float:
        """The weight of one more observation with ``key`` at time ``t`` (seconds)."""
        if key is None:
            return 1.0
        times = self._seen.pop(key, [])
        times = [s for s in times if t - s < self.seconds]
        times.append(t)
        self._seen[key] = times[-1000:]  # a burst of over 1,000 weighs at most 1/1,000 each
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return 1.0 / len(times)
