"""The parse stage: Exchange → Sample, a stage of its own between the sources and scoring.

The proxy hands over raw Exchanges (bytes, parsed here off the hot path); a source that already
has Samples (the Kafka tap) hands them over as they are. Every Exchange that cannot become a Sample
is counted once in ``llm_safety_samples_dropped_total{reason}``.
"""

from __future__ import annotations

from typing import TypeAlias

import structlog

from monitor.errors import CaptureError, MonitorError
from monitor.events import Exchange, Sample
from monitor.export.metrics import Metrics
from monitor.failopen import FailOpen
from monitor.sources.completion import to_sample

__all__ = ["Parser", "Work"]

Work: TypeAlias = Exchange | Sample


class Parser:
    """Turn work into Samples, counting every Exchange that cannot become one.

    Parameters
    ----------
    metrics
        Where drops are counted.

    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._guard = FailOpen("pipeline", metrics)
        self._log = structlog.get_logger("monitor.parsing")

    def __call__(self, work: Work) -> Sample | None:
        """The Sample, or ``None`` when the exchange was dropped (and counted)."""
        if isinstance(work, Sample):
            return work
        if not 200 <= work.status < 300:  # noqa: PLR2004
            self.metrics.drop("error_response")
            return None
        with self._guard:
            try:
                return to_sample(work)
            except CaptureError as exc:
                self.metrics.drop(exc.reason)
                self._log.info("sample_dropped", request_id=work.request_id, reason=exc.reason)
                return None
        self.metrics.drop(MonitorError.reason)  # reached only when the guard absorbed a failure
        return None
