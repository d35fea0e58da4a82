"""The detector protocol, and the verdict every alarm carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Detector", "Direction", "Estimate", "Severity"]

Direction = Literal["down", "up"]
Severity = Literal["ok", "warning", "high", "critical"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate with its confidence interval, over ``n`` observations."""

    rate: float
    low: float
    high: float
    n: float


@runtime_checkable
class Detector(Protocol):
    """River's convention: ``update`` a value, then read properties. State is a plain dict."""

    def update(self, x: float) -> None:
        """Feed one observation (0/1, or a value in [0, 1])."""

    @property
    def drift_detected(self) -> bool:
        """Whether the detector is in alarm after the latest update."""

    @property
    def severity(self) -> Severity:
        """How bad the change is, relative to the baseline."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as JSON-ready values."""
