"""Every metric the monitor exports: names, labels, and children bound once at start-up.

Labels take closed sets only:

* ``route``: ``chat_completions``, ``completions``, ``other``;
* ``model``: the configured allowlist (or the first ``max_auto_models`` seen), else ``other``;
* ``code_class``: ``1xx`` … ``5xx``;
* ``reason``: one ``reason`` of :mod:`monitor.errors`, or a sampling reason (``queue_full``);
* ``stage``: ``capture``, ``pipeline``, ``sink``.

Series budget with M models: requests 3·(M+1)·5, durations 3 histograms × 3 routes × 13 buckets,
the rest under 40 series. With the default M = 10 that is under 400 series per replica.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.errors import (
    CaptureError,
    ClassifierError,
    InvalidUtf8Error,
    MonitorError,
    NotJsonError,
    SinkError,
    TruncatedCaptureError,
    UnsupportedPayloadError,
    UpstreamConnectError,
    UpstreamDisconnectError,
    UpstreamTimeoutError,
)

__all__ = [
    "CODE_CLASSES",
    "DROP_REASONS",
    "OTHER",
    "ROUTES",
    "STAGES",
    "UPSTREAM_REASONS",
    "DetectorCollector",
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
STAGES = ("capture", "pipeline", "sink", "scoring", "detection", "checkpoint")
CLASSIFIERS = ("features", "refusal", "toxicity", "harm_category", "degeneracy")
EXCLUSION_REASONS = ("uncertain", "incoherent")
ALARM_SEVERITIES = ("warning", "high", "critical")

# Latency buckets in seconds: sub-millisecond resolution for overhead, minutes for generations.
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


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
        build_info = Gauge(
            "llm_safety_build_info", "Build of the monitor; always 1.", ["version"], registry=registry
        )
        build_info.labels(__version__).set(1)
        self.requests = Counter(
            "llm_safety_proxy_requests",
            "Requests proxied, by route, model and status class.",
            ["route", "model", "code_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "llm_safety_proxy_request_duration_seconds",
            "Time from request received to last response byte sent.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttfb = Histogram(
            "llm_safety_proxy_time_to_first_byte_seconds",
            "Streamed responses: time from request received to first body chunk sent.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.overhead = Histogram(
            "llm_safety_proxy_overhead_seconds",
            "Time the proxy itself adds: before the upstream call and before relaying its headers.",
            buckets=_OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "llm_safety_proxy_requests_in_flight", "Requests being proxied now.", registry=registry
        )
        self.upstream_errors = Counter(
            "llm_safety_proxy_upstream_errors", "Upstream failures, by reason.", ["reason"], registry=registry
        )
        self.client_disconnects = Counter(
            "llm_safety_proxy_client_disconnects",
            "Clients that closed the connection before the response ended.",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "llm_safety_sample_queue_depth", "Samples waiting to be processed.", registry=registry
        )
        self.queue_capacity = Gauge(
            "llm_safety_sample_queue_capacity", "Size of the bounded sample queue.", registry=registry
        )
        self.samples_taken = Counter(
            "llm_safety_samples_taken", "Exchanges copied for scoring.", registry=registry
        )
        self.samples_processed = Counter(
            "llm_safety_samples_processed", "Samples parsed and handed to the sinks.", registry=registry
        )
        self.samples_dropped = Counter(
            "llm_safety_samples_dropped", "Samples lost, by reason.", ["reason"], registry=registry
        )
        self.samples_scored = Counter(
            "llm_safety_samples_scored", "Samples judged by the classifiers.", registry=registry
        )
        self.classifier_seconds = Histogram(
            "llm_safety_classifier_inference_seconds",
            "Classifier time per batch, by classifier.",
            ["classifier"],
            buckets=(*_OVERHEAD_BUCKETS, 0.5, 1.0),
            registry=registry,
        )
        self.excluded = Counter(
            "llm_safety_judgements_excluded",
            "Judgements kept out of the refusal signals, by reason (uncertain or incoherent).",
            ["reason"],
            registry=registry,
        )
        self.internal_errors = Counter(
            "llm_safety_internal_errors",
            "Failures inside the monitor that were absorbed (fail-open), by stage and reason.",
            ["stage", "reason"],
            registry=registry,
        )
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

    def add_model(self, model: str) -> None:
        """Create the request series of a newly admitted model label, as zeros."""
        for route in ROUTES:
            for cls in CODE_CLASSES:
                self._requests[(route, model, cls)] = self.requests.labels(route, model, cls)

    def request_counter(self, route: str, model: str, status: int) -> Counter:
        """The pre-bound request counter child for this exchange."""
        return self._requests[(route, model, code_class(status))]

    def drop(self, reason: str) -> None:
        """Count one lost sample; unknown reasons fold into ``internal_error``."""
        self.dropped_by_reason.get(reason, self.dropped_by_reason[MonitorError.reason]).inc()

    def watch_queue(self, depth: Callable[[], int], capacity: int) -> None:
        """Report the queue's depth at scrape time, so the hot path never updates a gauge for it."""
        self.queue_depth.set_function(depth)
        self.queue_capacity.set(capacity)


class DetectorCollector(Collector):
    """Detector state, read at scrape time so the scoring path never touches a gauge.

    Per stream (model, category, signal): estimate with its confidence bounds and baseline (all
    ``_ratio``), observations, the statistic as a fraction of its threshold, and
    ``llm_safety_detector_alarm{severity}``: 1 for the active severity, 0 for the others.
    ``category`` is a harm category, ``benign``, or ``all`` (toxicity and incoherence).
    """

    def __init__(self, streams: Callable[[], Iterable[tuple[tuple[str, str, str], Any]]]) -> None:
        self.streams = streams

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        """Yield the detector families."""
        labels = ["model", "category", "signal"]
        families = {
            name: GaugeMetricFamily(f"llm_safety_detector_{name}", text, labels=labels)
            for name, text in (
                ("estimate_ratio", "Current rate estimate (since the change while alarmed)."),
                ("estimate_low_ratio", "Lower bound of the 95% Wilson interval of the estimate."),
                ("estimate_high_ratio", "Upper bound of the 95% Wilson interval of the estimate."),
                ("baseline_ratio", "Baseline rate (given, or learnt in warm-up)."),
                ("statistic_ratio", "Detection statistic as a fraction of its alarm threshold."),
            )
        }
        alarm = GaugeMetricFamily(
            "llm_safety_detector_alarm", "1 while alarmed at this severity.", labels=[*labels, "severity"]
        )
        observations = CounterMetricFamily(
            "llm_safety_detector_observations", "Observations fed to the detector.", labels=labels
        )
        for key, detector in self.streams():
            estimate, base = detector.estimate, getattr(detector, "baseline_rate", None)
            families["estimate_ratio"].add_metric(key, estimate.rate)
            families["estimate_low_ratio"].add_metric(key, estimate.low)
            families["estimate_high_ratio"].add_metric(key, estimate.high)
            if base is not None:
                families["baseline_ratio"].add_metric(key, base)
            families["statistic_ratio"].add_metric(key, getattr(detector, "statistic", 0.0))
            observations.add_metric(key, getattr(detector, "n", 0))
            for level in ALARM_SEVERITIES:
                alarm.add_metric([*key, level], float(detector.severity == level))
        yield from families.values()
        yield alarm
        yield observations
