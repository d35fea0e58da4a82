"""The one configuration object every generated artefact reads (selectors, thresholds, links)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONFIG", "Config"]


@dataclass(frozen=True, slots=True)
class Config:
    """Selectors and thresholds, in the style of a monitoring mixin's ``config.libsonnet``.

    Parameters
    ----------
    job
        The Prometheus ``job`` label of the monitor's admin endpoint.
    runbook_base
        Prefix of every ``runbook_url``.
    drop_ratio
        Share of sampled exchanges lost before ``LlmSafetySamplesDropping`` fires.
    backlog_ratio
        Queue fill before ``LlmSafetyScoringBacklog`` fires.
    tap_lag_records
        Records a tap may trail a partition's end, while not catching up, before
        ``LlmSafetyTapFallingBehind`` fires (about a minute of input at 150 records/s).
    tap_lag_for
        How long that must hold.

    """

    job: str = "llm-safety-monitor"
    runbook_base: str = "https://github.com/llm-safety-monitor/llm-safety-monitor/blob/main/docs/runbooks/"
    drop_ratio: float = 0.05
    backlog_ratio: float = 0.8
    tap_lag_records: int = 10_000
    tap_lag_for: str = "15m"
    detector_for: str = "1m"
    down_for: str = "5m"

    @property
    def selector(self) -> str:
        """Label selector for the monitor's own series."""
        return f'job="{self.job}"'


CONFIG = Config()
