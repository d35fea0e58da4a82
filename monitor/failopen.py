"""Fail-open at stage boundaries: an exception in monitoring is counted, logged, and absorbed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import structlog

from monitor.errors import MonitorError
from monitor.export.metrics import Metrics

__all__ = ["FailOpen"]


class FailOpen:
    """Context manager that absorbs any ``Exception`` raised inside it, so traffic is never touched.

    Cancellation and other ``BaseException``s pass through: they are control flow, not failures.

    Parameters
    ----------
    stage
        The ``stage`` label of ``llm_safety_internal_errors_total``.
    metrics
        Where failures are counted.

    """

    def __init__(self, stage: str, metrics: Metrics) -> None:
        self.stage = stage
        self.metrics = metrics
        self._log = structlog.get_logger("monitor.failopen")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        reason = exc.reason if isinstance(exc, MonitorError) else MonitorError.reason
        self.metrics.internal_errors.labels(self.stage, reason).inc()
        self._log.error(
            "stage_failed", stage=self.stage, reason=reason, error=type(exc).__name__, exc_info=exc
        )
        return True
