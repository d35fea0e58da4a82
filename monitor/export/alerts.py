"""Detector alarms → Alertmanager v2 (or a generic JSON webhook), with retries and a bounded outbox.

Canary streams alarm through the same alerts as live ones; the ``source`` label (``live`` or
``canary``) tells them apart, so a route can treat probes differently if it wants to.

State-based, like Prometheus itself: every ``interval_seconds`` the notifier reads the bank, sends
every active alarm again (``endsAt`` a few intervals ahead, so Alertmanager resolves it on its own
if we die), and sends ``endsAt = now`` for alarms that recovered or changed severity. Delivery
failures are retried with exponential backoff and counted; a full outbox drops the oldest batch
and counts it. Traffic never waits on any of it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import structlog

from detectors import Detector, Severity
from monitor.detection import DetectorBank
from monitor.errors import SinkError
from monitor.export.metrics import Metrics
from monitor.signals import StreamKey

__all__ = [
    "DETECTOR_ALERTS",
    "SEVERITY",
    "AlertSink",
    "AlertmanagerSink",
    "Notifier",
    "WebhookSink",
    "alert_labels",
]

# signal → (alertname, summary): shared with the Prometheus rules in dashboards/rules.py.
DETECTOR_ALERTS = {
    "refusal": ("LlmSafetyRefusalRateDrop", "A model refuses harmful requests less often than its baseline."),
    "false_refusal": (
        "LlmSafetyFalseRefusalRise",
        "A model refuses benign requests more often than its baseline.",
    ),
    "toxicity": ("LlmSafetyToxicityRise", "A model's responses are more toxic than its baseline."),
    "incoherence": (
        "LlmSafetyIncoherenceRise",
        "A model produces more degenerate outputs than its baseline.",
    ),
    "uncertain": (
        "LlmSafetyUncertainJudgementsRise",
        "The judges are unsure of more of a model's responses than at baseline.",
    ),
}
# Detector band → Alertmanager severity: high and critical page, warning notifies; the band itself
# travels in the `band` label.
SEVERITY = {"critical": "critical", "high": "critical", "warning": "warning"}


def alert_labels(key: StreamKey, band: str) -> dict[str, str]:
    """The labels of a detector alert; identical for the sidecar's alerts and the Prometheus rules."""
    return {"alertname": DETECTOR_ALERTS[key.signal][0], "model": key.model, "category": key.category,
            "signal": key.signal, "source": key.source, "severity": SEVERITY[band], "band": band}  # fmt: skip


def _describe(key: StreamKey, detector: Detector) -> dict[str, str]:
    """What on-call reads first: how bad, since when, on how much evidence, against what baseline."""
    e, recent, base, begin = detector.estimate, detector.recent, detector.baseline_rate, detector.change_start
    baseline = "unknown" if base is None else f"{base:.3f} ({detector.baseline_source})"
    since = "" if begin is None else f"; the change most likely began at observation {begin}"
    description = (
        f"{key.model} {key.signal} in {key.category} ({key.source}): {e.rate:.3f} "
        f"(95% CI {e.low:.3f}-{e.high:.3f}) "
        f"over {e.n:.0f} observations since the change, against a baseline of {baseline}{since}. "
        f"Recent window: {recent.rate:.3f} (95% CI {recent.low:.3f}-{recent.high:.3f})."
    )
    return {
        "description": description,
        "baseline": "" if base is None else f"{base:.4f}", "baseline_source": detector.baseline_source or "",
        "estimate": f"{e.rate:.4f}", "confidence_interval": f"{e.low:.4f}-{e.high:.4f}",
        "recent": f"{recent.rate:.4f}", "observations": f"{e.n:.0f}",
        "change_start_observation": "" if begin is None else str(begin),
    }  # fmt: skip


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class AlertSink(Protocol):
    """Where alerts go; ``send`` raises :class:`SinkError` when delivery failed."""

    name: str

    async def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Deliver one batch."""


class AlertmanagerSink:
    """POST to Alertmanager's ``/api/v2/alerts``."""

    name = "alertmanager"

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.session = session

    async def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Deliver the batch as Alertmanager's JSON list."""
        await _post(self.session, self.url, list(alerts))


class WebhookSink:
    """POST ``{"alerts": [...]}`` to any URL (the generic alternative to Alertmanager)."""

    name = "webhook"

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def send(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Deliver the batch wrapped in an object."""
        await _post(self.session, self.url, {"alerts": list(alerts)})


async def _post(session: aiohttp.ClientSession, url: str, payload: object) -> None:
    try:
        async with session.post(
            url, data=json.dumps(payload), headers={"Content-Type": "application/json"}
        ) as r:
            if r.status >= 300:  # noqa: PLR2004
                msg = f"{url} answered {r.status}"
                raise SinkError(msg)
    except (aiohttp.ClientError, TimeoutError) as exc:
        msg = f"cannot deliver alerts to {url}: {type(exc).__name__}"
        raise SinkError(msg) from exc


class Notifier:
    """Reads the detector bank and keeps every sink up to date.

    Parameters
    ----------
    bank
        The detectors.
    sinks
        Alertmanager and/or webhook sinks.
    metrics
        Counts sent, failed and dropped notifications.
    runbook_base
        Prefix of the ``runbook_url`` annotation.
    interval_seconds
        How often active alerts are (re-)sent.
    outbox
        Batches kept for retry per sink before the oldest is dropped.

    """

    def __init__(
        self, bank: DetectorBank, sinks: Sequence[AlertSink], metrics: Metrics, runbook_base: str,
        interval_seconds: float = 30.0, outbox: int = 100,
    ) -> None:  # fmt: skip
        self.bank = bank
        self.sinks = tuple(sinks)
        self.metrics = metrics
        self.runbook_base = runbook_base
        self.interval_seconds = interval_seconds
        self._active: dict[StreamKey, tuple[Severity, float]] = {}
        self._outboxes = {s.name: collections.deque[list[dict[str, Any]]](maxlen=outbox) for s in self.sinks}
        self._log = structlog.get_logger("monitor.alerts")

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Alerts to send now: every active alarm, plus resolutions for those that ended or changed."""
        out, seen = [], set()
        for key, detector in self.bank:
            band = detector.severity
            if band == "ok":
                continue
            seen.add(key)
            previous = self._active.get(key)
            if previous is not None and previous[0] != band:
                out.append(self._alert(key, previous[0], detector, previous[1], ends=now))
                previous = None
            started = previous[1] if previous else now
            self._active[key] = (band, started)
            out.append(self._alert(key, band, detector, started, ends=now + 4 * self.interval_seconds))
        for key in [k for k in self._active if k not in seen]:
            band, started = self._active.pop(key)
            out.append(self._alert(key, band, self.bank.detectors.get(key), started, ends=now))
        return out

    def _alert(
        self, key: StreamKey, band: str, detector: Detector | None, started: float, ends: float
    ) -> dict[str, Any]:
        labels = alert_labels(key, band)
        annotations = {
            "summary": DETECTOR_ALERTS[key.signal][1],
            "runbook_url": f"{self.runbook_base}{labels['alertname']}.md",
        }
        if detector is not None:
            annotations |= _describe(key, detector)
        return {"labels": labels, "annotations": annotations, "startsAt": _iso(started), "endsAt": _iso(ends)}

    async def run(self) -> None:
        """Scan and deliver every interval until cancelled."""
        while True:
            await self.flush()
            await asyncio.sleep(self.interval_seconds)

    async def flush(self) -> None:
        """One scan: enqueue the snapshot for every sink and try to deliver each outbox."""
        batch = self.snapshot(time.time())
        for sink in self.sinks:
            outbox = self._outboxes[sink.name]
            if batch:
                if len(outbox) == outbox.maxlen:
                    self.metrics.alerts_dropped.labels(sink.name).inc(len(outbox[0]))
                outbox.append(batch)
            await self._deliver(sink, outbox)

    async def _deliver(self, sink: AlertSink, outbox: collections.deque[list[dict[str, Any]]]) -> None:
        delay = 0.5
        for _attempt in range(3):
            if not outbox:
                return
            try:
                await sink.send(outbox[0])
            except SinkError as exc:
                self.metrics.alerts_failed.labels(sink.name).inc()
                self._log.warning(
                    "alert_delivery_failed", sink=sink.name, error=str(exc), retry_in_seconds=delay
                )
                await asyncio.sleep(delay)
                delay *= 2
                continue
            self.metrics.alerts_sent.labels(sink.name).inc(len(outbox.popleft()))
