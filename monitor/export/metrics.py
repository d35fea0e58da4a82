"""Every metric the monitor exports: names, labels, and children bound once at start-up.

Labels take closed sets only:

* ``route``: ``chat_completions``, ``completions``, ``other``;
* ``model``: the configured allowlist (or the first ``max_auto_models`` seen), else ``other``;
* ``code_class``: ``1xx`` … ``5xx``;
* ``reason``: one ``reason`` of :mod:`monitor.errors`, or a sampling reason (``queue_full``, ``shed``);
* ``stage``: ``capture``, ``pipeline``, ``sink``.

Series budget with M models: requests 3·(M+1)·5, durations 3 histograms × 3 routes × 13 buckets,
the rest under 40 series. With the default M = 10 that is under 400 series per replica.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detectors import Detector
from monitor import __version__
from monitor.errors import (
    CaptureError,
    ClassifierError,
    InvalidUtf8Error,
    JudgeError,
    JudgeReplyError,
    JudgeTimeoutError,
    KafkaAuthError,
    KafkaError,
    KafkaRecordError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    MonitorError,
    NotJsonError,
    SinkError,
    TruncatedCaptureError,
    UnsupportedPayloadError,
    UpstreamConnectError,
    UpstreamDisconnectError,
    UpstreamTimeoutError,
)
from monitor.export.logs import DropLog
from monitor.signals import StreamKey

__all__ = [
    "CANARY_FAILURES",
    "CATALOGUE",
    "CODE_CLASSES",
    "DROP_REASONS",
    "JUDGE_OUTCOMES",
    "JUDGE_VERDICTS",
    "KAFKA_DROPS",
    "KAFKA_FAILURES",
    "OTHER",
    "ROUTES",
    "SPECS",
    "STAGES",
    "TAP_OUTCOMES",
    "UPSTREAM_REASONS",
    "DetectorCollector",
    "DetectorView",
    "MetricSpec",
    "Metrics",
    "code_class",
]

OTHER = "other"
ROUTES = ("chat_completions", "completions", OTHER)
CODE_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
UPSTREAM_REASONS = tuple(
    e.reason for e in (UpstreamConnectError, UpstreamTimeoutError, UpstreamDisconnectError)
)
DROP_REASONS = (
    "queue_full",
    "shed",
    "error_response",
    *(
        e.reason
        for e in (
            NotJsonError,
            InvalidUtf8Error,
            UnsupportedPayloadError,
            TruncatedCaptureError,
            CaptureError,
            SinkError,
            ClassifierError,
            MonitorError,
        )
    ),
)
STAGES = ("capture", "pipeline", "sink", "scoring", "judge", "detection", "checkpoint", "alerts")
CLASSIFIERS = ("features", "refusal", "toxicity", "harm_category", "encoder", "degeneracy")
EXCLUSION_REASONS = ("incoherent",)
PHASES = ("warming", "armed", "alarmed")
ALARM_SEVERITIES = ("warning", "high", "critical")
ALERT_SINKS = ("alertmanager", "webhook")
KAFKA_FAILURES = tuple(
    e.reason for e in (KafkaUnavailableError, KafkaTimeoutError, KafkaAuthError, KafkaRecordError, KafkaError)
)
KAFKA_DROPS = ("buffer_full", KafkaRecordError.reason, "shutdown")
# A tap record ends as one of these: scored, detected from a sidecar's scores, or skipped.
TAP_OUTCOMES = ("scored", "prescored", "duplicate", "malformed", "poison")
CANARY_FAILURES = (UpstreamConnectError.reason, UpstreamTimeoutError.reason, "error_response")
# An uncertain sample offered to the external judge ends as one of these; only "verdict" and
# "cached" change its scores, the rest keep the classifier's.
JUDGE_OUTCOMES = (
    "verdict",
    "cached",
    "abstained",
    "rate_limited",
    "over_budget",
    *(e.reason for e in (JudgeTimeoutError, JudgeReplyError, JudgeError)),
)
# What the judge said, as it said it: the json format's three classes, a format's plain refusal
# (WildGuard), and Llama Guard's safe/unsafe (see monitor.scoring.judge for how each maps).
JUDGE_VERDICTS = ("full_refusal", "partial_refusal", "refusal", "compliance", "unsafe", "safe")

# Latency buckets in seconds: sub-millisecond resolution for overhead, minutes for generations.
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric family: the single place its name, type, unit, labels and meaning are written.

    ``attribute`` names the :class:`Metrics` attribute it becomes; families exported by a collector
    at scrape time (the detector state) have none.
    """

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    attribute: str = ""
    buckets: tuple[float, ...] = ()

    @property
    def exposed(self) -> str:
        """The name as scraped: counters gain ``_total``."""
        return self.name + "_total" if self.kind == "counter" else self.name

    def make(self, registry: CollectorRegistry) -> Any:
        """Create the prometheus-client metric on ``registry``."""
        if self.kind == "counter":
            return Counter(self.name, self.help, self.labels, registry=registry)
        if self.kind == "histogram":
            return Histogram(self.name, self.help, self.labels, buckets=self.buckets, registry=registry)
        return Gauge(self.name, self.help, self.labels, registry=registry)


_D = ("model", "category", "signal", "source")
CATALOGUE: tuple[MetricSpec, ...] = (
    MetricSpec(
        "llm_safety_build_info",
        "gauge",
        "Build of the monitor; always 1.",
        ("version",),
        attribute="build_info",
    ),
    MetricSpec(
        "llm_safety_proxy_requests",
        "counter",
        "Requests proxied, by route, model and status class.",
        ("route", "model", "code_class"),
        attribute="requests",
    ),
    MetricSpec(
        "llm_safety_proxy_request_duration_seconds",
        "histogram",
        "Time from request received to last response byte sent.",
        ("route",),
        "seconds",
        "duration",
        _LATENCY_BUCKETS,
    ),
    MetricSpec(
        "llm_safety_proxy_time_to_first_byte_seconds",
        "histogram",
        "Streamed responses: time from request received to first body chunk sent.",
        ("route",),
        "seconds",
        "ttfb",
        _LATENCY_BUCKETS,
    ),
    MetricSpec(
        "llm_safety_proxy_overhead_seconds",
        "histogram",
        "Time the proxy itself adds: before the upstream call and before relaying its headers.",
        (),
        "seconds",
        "overhead",
        _OVERHEAD_BUCKETS,
    ),
    MetricSpec(
        "llm_safety_proxy_requests_in_flight", "gauge", "Requests being proxied now.", attribute="in_flight"
    ),
    MetricSpec(
        "llm_safety_proxy_upstream_errors",
        "counter",
        "Upstream failures, by reason.",
        ("reason",),
        attribute="upstream_errors",
    ),
    MetricSpec(
        "llm_safety_proxy_client_disconnects",
        "counter",
        "Clients that closed the connection before the response ended.",
        attribute="client_disconnects",
    ),
    MetricSpec(
        "llm_safety_sample_queue_depth", "gauge", "Samples waiting to be processed.", attribute="queue_depth"
    ),
    MetricSpec(
        "llm_safety_sample_queue_capacity",
        "gauge",
        "Size of the bounded sample queue.",
        attribute="queue_capacity",
    ),
    MetricSpec(
        "llm_safety_event_loop_lag_seconds",
        "gauge",
        "How late the proxy's event loop ran its last timer (sampling.adaptive.interval_seconds apart).",
        (),
        "seconds",
        "loop_lag",
    ),
    MetricSpec(
        "llm_safety_sample_rate_factor_ratio",
        "gauge",
        "Factor adaptive sampling applies to every sample rate now (1: nothing shed, 0: all but priority).",
        (),
        "ratio",
        "rate_factor",
    ),
    MetricSpec(
        "llm_safety_sample_priority_shed",
        "gauge",
        "1 while adaptive sampling sheds canaries and forced samples too.",
        attribute="priority_shed",
    ),
    MetricSpec(
        "llm_safety_samples_taken",
        "counter",
        "Exchanges sampled for scoring; each ends up processed or dropped.",
        attribute="samples_taken",
    ),
    MetricSpec(
        "llm_safety_samples_processed",
        "counter",
        "Samples parsed and handed to the sinks.",
        attribute="samples_processed",
    ),
    MetricSpec(
        "llm_safety_samples_dropped",
        "counter",
        "Samples lost, by reason.",
        ("reason",),
        attribute="samples_dropped",
    ),
    MetricSpec(
        "llm_safety_samples_scored",
        "counter",
        "Samples judged by the classifiers.",
        attribute="samples_scored",
    ),
    MetricSpec(
        "llm_safety_classifier_inference_seconds",
        "histogram",
        "Classifier time per batch, by classifier.",
        ("classifier",),
        "seconds",
        "classifier_seconds",
        (*_OVERHEAD_BUCKETS, 0.5, 1.0),
    ),
    MetricSpec(
        "llm_safety_judge_requests",
        "counter",
        "Uncertain samples offered to the external judge (scoring.judge), by outcome.",
        ("outcome",),
        attribute="judge_requests",
    ),
    MetricSpec(
        "llm_safety_judge_verdicts",
        "counter",
        "Verdicts the external judge gave (cache hits included), by verdict.",
        ("verdict",),
        attribute="judge_verdicts",
    ),
    MetricSpec(
        "llm_safety_judge_disagreements",
        "counter",
        "External verdicts that flipped the classifier's refusal judgement (at probability 0.5).",
        attribute="judge_disagreements",
    ),
    MetricSpec(
        "llm_safety_judge_seconds",
        "histogram",
        "Time per call to the external judge, whatever its outcome.",
        (),
        "seconds",
        "judge_seconds",
        _LATENCY_BUCKETS,
    ),
    MetricSpec(
        "llm_safety_judge_budget_remaining",
        "gauge",
        "Calls the external judge may still make in the sliding hour (scoring.judge.budget_per_hour).",
        attribute="judge_budget",
    ),
    MetricSpec(
        "llm_safety_judgements_excluded",
        "counter",
        "Judgements kept out of the refusal signals, by reason (degenerate output).",
        ("reason",),
        attribute="excluded",
    ),
    MetricSpec(
        "llm_safety_internal_errors",
        "counter",
        "Failures inside the monitor that were absorbed (fail-open), by stage and reason.",
        ("stage", "reason"),
        attribute="internal_errors",
    ),
    MetricSpec(
        "llm_safety_alerts_sent",
        "counter",
        "Alert notifications delivered, by sink.",
        ("sink",),
        attribute="alerts_sent",
    ),
    MetricSpec(
        "llm_safety_alerts_failed",
        "counter",
        "Alert deliveries that failed (and will be retried), by sink.",
        ("sink",),
        attribute="alerts_failed",
    ),
    MetricSpec(
        "llm_safety_alerts_dropped",
        "counter",
        "Alert notifications dropped from a full outbox, by sink.",
        ("sink",),
        attribute="alerts_dropped",
    ),
    MetricSpec(
        "llm_safety_canary_probes_sent",
        "counter",
        "Canary probes answered by the upstream and queued for scoring.",
        attribute="canary_sent",
    ),
    MetricSpec(
        "llm_safety_canary_probes_failed",
        "counter",
        "Canary probes that got no usable answer, by reason.",
        ("reason",),
        attribute="canary_failed",
    ),
    MetricSpec(
        "llm_safety_canary_probes_skipped",
        "counter",
        "Canary probes not sent because the hourly budget was spent.",
        attribute="canary_skipped",
    ),
    MetricSpec(
        "llm_safety_kafka_events_delivered",
        "counter",
        "Scored events the broker acknowledged.",
        attribute="kafka_delivered",
    ),
    MetricSpec(
        "llm_safety_kafka_events_failed",
        "counter",
        "Scored events whose delivery attempt failed, by reason (retriable ones are retried).",
        ("reason",),
        attribute="kafka_failed",
    ),
    MetricSpec(
        "llm_safety_kafka_events_dropped",
        "counter",
        "Scored events given up, by reason: buffer full, refused by the broker, or left at shutdown.",
        ("reason",),
        attribute="kafka_dropped",
    ),
    MetricSpec(
        "llm_safety_kafka_events_buffered",
        "gauge",
        "Scored events waiting for the broker (bounded by kafka.sink.buffer_size).",
        attribute="kafka_buffered",
    ),
    MetricSpec(
        "llm_safety_tap_records",
        "counter",
        "Records the tap consumed, by outcome.",
        ("outcome",),
        attribute="tap_records",
    ),
    MetricSpec(
        "llm_safety_kafka_consumer_lag",
        "gauge",
        "Records between the tap's position and the end of the partition, per assigned partition.",
        ("topic", "partition"),
        attribute="kafka_lag",
    ),
    MetricSpec(
        "llm_safety_detector_estimate_ratio",
        "gauge",
        "Current rate estimate (since the change while alarmed).",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_estimate_low_ratio",
        "gauge",
        "Lower bound of the 95% Wilson interval of the estimate.",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_estimate_high_ratio",
        "gauge",
        "Upper bound of the 95% Wilson interval of the estimate.",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_baseline_ratio",
        "gauge",
        "Baseline rate (given, or learnt in warm-up).",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_statistic_ratio",
        "gauge",
        "Detection statistic as a fraction of its alarm threshold.",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_recent_ratio",
        "gauge",
        "Rate over the recent window (the last detection.window weight of observations).",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_recent_low_ratio",
        "gauge",
        "Lower 95% Wilson bound of the recent rate.",
        _D,
        "ratio",
    ),
    MetricSpec(
        "llm_safety_detector_recent_high_ratio",
        "gauge",
        "Upper 95% Wilson bound of the recent rate.",
        _D,
        "ratio",
    ),
    MetricSpec("llm_safety_detector_alarm", "gauge", "1 while alarmed at this severity.", (*_D, "severity")),
    MetricSpec(
        "llm_safety_detector_phase",
        "gauge",
        "1 for the stream's phase: warming (no baseline yet), armed, or alarmed.",
        (*_D, "phase"),
    ),
    MetricSpec(
        "llm_safety_detector_warmup_remaining",
        "gauge",
        "Weight of observations the stream still needs before it is armed (0 once armed).",
        _D,
    ),
    MetricSpec("llm_safety_detector_observations", "counter", "Observations fed to the detector.", _D),
    MetricSpec(
        "llm_safety_compliance_depth_ratio",
        "gauge",
        "Mean compliance depth (0..1: length, steps, code, specifics) of recent answers to harmful prompts.",
        ("model", "category"),
        "ratio",
    ),
)
SPECS = {spec.name: spec for spec in CATALOGUE}


def code_class(status: int) -> str:
    """``503`` → ``"5xx"``; anything outside 100..599 counts as ``5xx``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"  # noqa: PLR2004


class Metrics:
    """The monitor's metrics on one registry (a fresh one per test).

    Parameters
    ----------
    registry
        Where the metrics are registered.
    models
        Model label values known at start-up, so their series exist (as zeros) before traffic.

    """

    def __init__(self, registry: CollectorRegistry, models: Iterable[str] = ()) -> None:
        self.registry = registry
        self._models = [*models, OTHER]
        made = {spec.attribute: spec.make(registry) for spec in CATALOGUE if spec.attribute}
        self.build_info: Gauge = made["build_info"]
        self.build_info.labels(__version__).set(1)
        self.requests: Counter = made["requests"]
        self.duration: Histogram = made["duration"]
        self.ttfb: Histogram = made["ttfb"]
        self.overhead: Histogram = made["overhead"]
        self.in_flight: Gauge = made["in_flight"]
        self.upstream_errors: Counter = made["upstream_errors"]
        self.client_disconnects: Counter = made["client_disconnects"]
        self.queue_depth: Gauge = made["queue_depth"]
        self.queue_capacity: Gauge = made["queue_capacity"]
        self.samples_taken: Counter = made["samples_taken"]
        self.loop_lag: Gauge = made["loop_lag"]
        self.rate_factor: Gauge = made["rate_factor"]
        self.priority_shed: Gauge = made["priority_shed"]
        self.rate_factor.set(1.0)
        self.samples_processed: Counter = made["samples_processed"]
        self.samples_dropped: Counter = made["samples_dropped"]
        self.samples_scored: Counter = made["samples_scored"]
        self.classifier_seconds: Histogram = made["classifier_seconds"]
        self.excluded: Counter = made["excluded"]
        self.internal_errors: Counter = made["internal_errors"]
        self.alerts_sent: Counter = made["alerts_sent"]
        self.alerts_failed: Counter = made["alerts_failed"]
        self.alerts_dropped: Counter = made["alerts_dropped"]
        self.kafka_delivered: Counter = made["kafka_delivered"]
        self.kafka_failed: Counter = made["kafka_failed"]
        self.kafka_dropped: Counter = made["kafka_dropped"]
        self.kafka_buffered: Gauge = made["kafka_buffered"]
        self.tap_records: Counter = made["tap_records"]
        self.kafka_lag: Gauge = made["kafka_lag"]
        self.canary_sent: Counter = made["canary_sent"]
        self.canary_failed: Counter = made["canary_failed"]
        self.canary_skipped: Counter = made["canary_skipped"]
        self.judge_requests: Counter = made["judge_requests"]
        self.judge_verdicts: Counter = made["judge_verdicts"]
        self.judge_disagreements: Counter = made["judge_disagreements"]
        self.judge_seconds: Histogram = made["judge_seconds"]
        self.judge_budget: Gauge = made["judge_budget"]
        self.drop_log = DropLog()
        self._bind()

    def _bind(self) -> None:
        # .labels() takes a lock on every call; the hot path uses these pre-bound children instead.
        self.duration_by_route = {r: self.duration.labels(r) for r in ROUTES}
        self.ttfb_by_route = {r: self.ttfb.labels(r) for r in ROUTES}
        self.upstream_error_by_reason = {r: self.upstream_errors.labels(r) for r in UPSTREAM_REASONS}
        self.dropped_by_reason = {r: self.samples_dropped.labels(r) for r in DROP_REASONS}
        self._requests: dict[tuple[str, str, str], Counter] = {}
        for model in self._models:
            self.add_model(model)
        for stage in STAGES:
            self.internal_errors.labels(stage, MonitorError.reason)
        self.classifier_seconds_by_name = {c: self.classifier_seconds.labels(c) for c in CLASSIFIERS}
        self.excluded_by_reason = {r: self.excluded.labels(r) for r in EXCLUSION_REASONS}
        for sink in ALERT_SINKS:
            for family in (self.alerts_sent, self.alerts_failed, self.alerts_dropped):
                family.labels(sink)
        self.kafka_failed_by_reason = {r: self.kafka_failed.labels(r) for r in KAFKA_FAILURES}
        self.kafka_dropped_by_reason = {r: self.kafka_dropped.labels(r) for r in KAFKA_DROPS}
        self.tap_by_outcome = {o: self.tap_records.labels(o) for o in TAP_OUTCOMES}
        self.canary_failed_by_reason = {r: self.canary_failed.labels(r) for r in CANARY_FAILURES}
        self.judge_by_outcome = {o: self.judge_requests.labels(o) for o in JUDGE_OUTCOMES}
        self.judge_by_verdict = {v: self.judge_verdicts.labels(v) for v in JUDGE_VERDICTS}

    def add_model(self, model: str) -> None:
        """Create the request series of a newly admitted model label, as zeros."""
        for route in ROUTES:
            for cls in CODE_CLASSES:
                self._requests[(route, model, cls)] = self.requests.labels(route, model, cls)

    def request_counter(self, route: str, model: str, status: int) -> Counter:
        """The pre-bound request counter child for this exchange."""
        return self._requests[(route, model, code_class(status))]

    def drop(self, reason: str) -> None:
        """Count and log (rate-limited) one lost sample; unknown reasons fold into ``internal_error``."""
        reason = reason if reason in self.dropped_by_reason else MonitorError.reason
        self.dropped_by_reason[reason].inc()
        self.drop_log.count(reason)

    def accounting(self) -> dict[str, float]:
        """The identity every sampled exchange obeys: ``samples_taken = processed + dropped``."""
        value = self.registry.get_sample_value
        return {
            "samples_taken": value("llm_safety_samples_taken_total") or 0.0,
            "samples_processed": value("llm_safety_samples_processed_total") or 0.0,
            "samples_dropped": sum(
                value("llm_safety_samples_dropped_total", {"reason": r}) or 0.0 for r in DROP_REASONS
            ),
        }

    def watch_queue(self, depth: Callable[[], int], capacity: int) -> None:
        """Report the queue's depth at scrape time, so the hot path never updates a gauge for it."""
        self.queue_depth.set_function(depth)
        self.queue_capacity.set(capacity)

    def watch_judge(self, remaining: Callable[[], float]) -> None:
        """Report the external judge's remaining hourly budget at scrape time."""
        self.judge_budget.set_function(remaining)

    def watch_shedding(self, factor: Callable[[], float], priority: Callable[[], bool]) -> None:
        """Report adaptive sampling's state at scrape time (the sampler reads it per request)."""
        self.rate_factor.set_function(factor)
        self.priority_shed.set_function(lambda: float(priority()))


class DetectorView(Protocol):
    """What the collector reads from the detector bank."""

    def __iter__(self) -> Iterator[tuple[StreamKey, Detector]]:
        """Every stream and its detector."""
        ...

    def depths(self) -> Iterable[tuple[tuple[str, str], float, float]]:
        """(model, category), mean compliance depth and its weight."""
        ...


_RATIOS = (
    "estimate_ratio",
    "estimate_low_ratio",
    "estimate_high_ratio",
    "recent_ratio",
    "recent_low_ratio",
    "recent_high_ratio",
    "baseline_ratio",
    "statistic_ratio",
    "warmup_remaining",
)


class DetectorCollector(Collector):
    """Detector state, read at scrape time so the scoring path never touches a gauge.

    Per stream (model, category, signal, source): estimate (since the change while alarmed) and the recent
    window's rate with their confidence bounds, baseline (all ``_ratio``), observations, the statistic
    as a fraction of its threshold, ``llm_safety_detector_phase{phase}`` and
    ``llm_safety_detector_alarm{severity}``: 1 for the active value, 0 for the others. ``category`` is
    a harm category, ``benign``, or ``all`` (the pooled refusal stream and the per-response signals);
    ``source`` is ``live`` or ``canary`` (probes of a known suite; their refusal rate per category is
    the estimate of ``signal="refusal", source="canary"``).
    """

    def __init__(self, bank: DetectorView) -> None:
        self.bank = bank

    def collect(self) -> Iterable[Metric]:
        """Yield the detector families."""
        families = {name: _gauge(f"llm_safety_detector_{name}") for name in _RATIOS}
        alarm, phase = _gauge("llm_safety_detector_alarm"), _gauge("llm_safety_detector_phase")
        spec = SPECS["llm_safety_detector_observations"]
        observations = CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for key, detector in self.bank:
            for name, value in _readings(detector).items():
                if value is not None:
                    families[name].add_metric(key, value)
            observations.add_metric(key, detector.n)
            for level in ALARM_SEVERITIES:
                alarm.add_metric([*key, level], float(detector.severity == level))
            for name in PHASES:
                phase.add_metric([*key, name], float(detector.phase == name))
        depth = _gauge("llm_safety_compliance_depth_ratio")
        for pair, mean, _ in self.bank.depths():
            depth.add_metric(pair, mean)
        yield from (*families.values(), alarm, phase, observations, depth)


def _gauge(name: str) -> GaugeMetricFamily:
    spec = SPECS[name]
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


def _readings(detector: Detector) -> dict[str, float | None]:
    estimate, recent = detector.estimate, detector.recent
    return {
        "estimate_ratio": estimate.rate,
        "estimate_low_ratio": estimate.low,
        "estimate_high_ratio": estimate.high,
        "recent_ratio": recent.rate,
        "recent_low_ratio": recent.low,
        "recent_high_ratio": recent.high,
        "baseline_ratio": detector.baseline_rate,
        "statistic_ratio": detector.statistic,
        "warmup_remaining": detector.warmup_remaining,
    }
