"""The detector protocol, and the verdict every alarm carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Detector", "Direction", "Estimate", "Phase", "Severity"]

Direction = Literal["down", "up"]
Severity = Literal["ok", "warning", "high", "critical"]
Phase = Literal["warming", "armed", "alarmed"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate with its confidence interval, over ``n`` (weighted) observations."""

    rate: float
    low: float
    high: float
    n: float


@runtime_checkable
class Detector(Protocol):
    """River's convention: ``update`` a value, then read properties. State is a plain dict.

    Everything that metrics, the status page and alerts read is here, so none of them probes a
    detector with ``getattr``. Rates (``estimate``, ``recent``, ``baseline_rate``) are on the scale
    a person reads: corrected for the judge's known error where the detector was given a correction.
    """

    def update(self, x: float, weight: float = 1.0) -> None:
        """Feed one observation (0/1, or a value in [0, 1]) with a weight in [0, 1]."""

    @property
    def drift_detected(self) -> bool:
        """Whether the detector is in alarm after the latest update."""

    @property
    def severity(self) -> Severity:
        """How bad the change is, relative to the baseline."""

    @property
    def phase(self) -> Phase:
        """``warming`` (no baseline yet), ``armed`` or ``alarmed``."""

    @property
    def warmup_remaining(self) -> float:
        """Weight of observations still needed before the detector is armed (0 once armed)."""

    @property
    def baseline_rate(self) -> float | None:
        """The baseline in use, or ``None`` while warming."""

    @property
    def baseline_source(self) -> str | None:
        """Where the baseline came from (``file``, ``given``, ``warmup``), or ``None`` while warming."""

    @property
    def estimate(self) -> Estimate:
        """The rate since the change while alarmed, else the recent window's."""

    @property
    def recent(self) -> Estimate:
        """The rate over the recent window."""

    @property
    def statistic(self) -> float:
        """Detection statistic as a fraction of its alarm threshold (1 = alarm)."""

    @property
    def change_start(self) -> int | None:
        """While alarmed: the observation index at which the change most likely began."""

    @property
    def n(self) -> int:
        """Observations fed."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as JSON-ready values."""
