"""A recent-traffic window of weighted counts, in bounded memory.

Estimates that say "what is happening now" need a window, not an exponentially weighted mean: a
mean with a long half-life shows mostly pre-change data on a low-traffic stream. The window keeps
``blocks`` full block sums of about ``size / blocks`` weight each plus the open block, so it covers
between ``size`` and ``size + size / blocks`` weight of the latest observations.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["RecentWindow"]


class RecentWindow:
    """Weighted (weight, successes) over the most recent ``size`` weight of observations.

    Parameters
    ----------
    size
        Weight the window covers.
    blocks
        Resolution: the window drops its oldest block at a time.

    Examples
    --------
    >>> window = RecentWindow(size=10, blocks=2)
    >>> for x in [1.0] * 20 + [0.0] * 10:
    ...     window.add(x)
    >>> window.totals()
    (10.0, 0.0)

    """

    def __init__(self, size: float = 500.0, blocks: int = 10) -> None:
        self.size = size
        self.blocks = blocks
        self._cap = size / blocks
        self._done: deque[tuple[float, float]] = deque(maxlen=blocks)
        self._w = 0.0
        self._s = 0.0

    def add(self, x: float, weight: float = 1.0) -> None:
        """Count one observation ``x`` in [0, 1] with ``weight``."""
        self._w += weight
        self._s += weight * x
        if self._w >= self._cap:
            self._done.append((self._w, self._s))
            self._w = self._s = 0.0

    def totals(self) -> tuple[float, float]:
        """(weight, weighted successes) in the window."""
        return (
            self._w + sum(w for w, _ in self._done),
            self._s + sum(s for _, s in self._done),
        )

    def state(self) -> dict[str, Any]:
        """JSON-ready contents."""
        return {"done": [list(b) for b in self._done], "open": [self._w, self._s]}

    def restore(self, data: dict[str, Any]) -> None:
        """Load :meth:`state`."""
        self._done.clear()
        self._done.extend((float(w), float(s)) for w, s in data["done"])
        self._w, self._s = (float(v) for v in data["open"])
