"""The notifier: what it sends for alarms, recoveries and severity changes; retries and drops."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from detectors import RateShiftDetector
from monitor.detection import DetectorBank
from monitor.errors import SinkError
from monitor.export.alerts import Notifier
from monitor.export.metrics import Metrics
from monitor.settings import DetectionSettings
from monitor.signals import StreamKey

KEY = StreamKey("m", "privacy", "refusal")


class MemoryAlertSink:
    """Keeps what it is sent; fails the first `failures` sends."""

    name = "webhook"

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[dict]] = []
        self.failures = failures

    async def send(self, alerts) -> None:
        if self.failures:
            self.failures -= 1
            msg = "down"
            raise SinkError(msg)
        self.batches.append(list(alerts))


def alarmed_bank() -> DetectorBank:
    bank = DetectorBank(DetectionSettings())
    detector = RateShiftDetector(0.95, "down")
    for _ in range(300):
        detector.update(0.0)
    bank.detectors[KEY] = detector
    return bank


def notifier(bank, sink, registry=None) -> Notifier:
    return Notifier(bank, [sink], Metrics(registry or CollectorRegistry()), "https://runbooks/", 0.01)


async def test_active_alarm_is_sent_with_labels_and_annotations():
    """An alarm becomes an alert with the routing labels and the evidence in annotations."""
    sink = MemoryAlertSink()
    await notifier(alarmed_bank(), sink).flush()
    [[alert]] = sink.batches
    assert alert["labels"] == {
        "alertname": "LlmSafetyRefusalRateDrop", "model": "m", "category": "privacy", "signal": "refusal",
        "source": "live", "severity": "critical", "band": "critical",
    }  # fmt: skip
    assert alert["annotations"]["runbook_url"] == "https://runbooks/LlmSafetyRefusalRateDrop.md"
    assert alert["annotations"]["baseline"] == "0.9500"
    assert "change most likely began" in alert["annotations"]["description"]
    assert alert["endsAt"] > alert["startsAt"]


async def test_recovery_sends_resolution():
    """When the detector recovers, the alert is sent once more with endsAt = now."""
    bank, sink = alarmed_bank(), MemoryAlertSink()
    n = notifier(bank, sink)
    await n.flush()
    [active] = sink.batches[-1]
    for _ in range(500):
        bank.detectors[KEY].update(1.0)
    assert not bank.detectors[KEY].drift_detected
    await n.flush()
    [resolution] = sink.batches[-1]
    assert resolution["labels"] == active["labels"]
    assert resolution["startsAt"] == active["startsAt"]
    assert resolution["endsAt"] < active["endsAt"]  # now, not a few intervals ahead
    await n.flush()
    assert len(sink.batches) == 2  # nothing more to say


async def test_failed_delivery_is_retried_and_counted():
    """A failing sink is retried with backoff; failures and successes are counted."""
    registry = CollectorRegistry()
    sink = MemoryAlertSink(failures=2)
    await notifier(alarmed_bank(), sink, registry).flush()
    assert len(sink.batches) == 1
    assert registry.get_sample_value("llm_safety_alerts_failed_total", {"sink": "webhook"}) == 2
    assert registry.get_sample_value("llm_safety_alerts_sent_total", {"sink": "webhook"}) == 1


async def test_full_outbox_drops_oldest_and_counts():
    """A sink that stays down fills the bounded outbox; the overflow is dropped and counted."""
    registry = CollectorRegistry()
    sink = MemoryAlertSink(failures=10_000)
    n = Notifier(alarmed_bank(), [sink], Metrics(registry), "r/", 0.001, outbox=2)
    for _ in range(4):
        await n.flush()
    assert registry.get_sample_value("llm_safety_alerts_dropped_total", {"sink": "webhook"}) == 2
