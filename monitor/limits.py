"""Spending limits for calls that leave the process: a token bucket and a sliding-hour budget.

Shared by the canary prober and the external judge; both take the time as an argument, so tests
drive them with a fake clock.
"""

from __future__ import annotations

from collections import deque

__all__ = ["HourlyBudget", "TokenBucket"]

_HOUR = 3600.0


class TokenBucket:
    """At most ``rate`` calls per second on average, in bursts of up to ``max(1, rate)``.

    >>> bucket = TokenBucket(1.0)
    >>> [bucket.take(t) for t in (0.0, 0.1, 1.2)]
    [True, False, True]
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._at: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token at ``now`` (seconds) if there is one."""
        if self._at is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class HourlyBudget:
    """At most ``per_hour`` calls in any sliding hour.

    >>> budget = HourlyBudget(2)
    >>> [budget.take(t) for t in (0.0, 1.0, 2.0, 3601.0)], budget.remaining(3601.0)
    ([True, True, False, True], 1)
    """

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._spent: deque[float] = deque()

    def remaining(self, now: float) -> int:
        """Calls still allowed at ``now``."""
        while self._spent and self._spent[0] <= now - _HOUR:
            self._spent.popleft()
        return self.per_hour - len(self._spent)

    def take(self, now: float) -> bool:
        """Spend one call at ``now`` if the hour allows it."""
        if self.remaining(now) <= 0:
            return False
        self._spent.append(now)
        return True
