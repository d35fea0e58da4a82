"""Recording rules, alert rules and a promtool test case for every alert.

Alert rules stay thin: the statistics live in the detectors (tested in Python, with a known
false-alarm rate), and ``LlmSafety*`` detector alerts only route ``llm_safety_detector_alarm == 1``.
Detector bands map to alert severities: critical and high → ``critical`` (page), warning →
``warning`` (notify); nothing a detector raises arrives as ``info``. The band itself stays in the
``band`` label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.config import CONFIG, Config
from monitor.export.alerts import DETECTOR_ALERTS

__all__ = ["Alert", "alerts", "recording_rules", "rule_groups", "rule_tests", "severity_label"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``lhs op threshold`` held for ``for_``, and the series that make it fire in tests.

    ``lhs`` alone must return series on a healthy, running monitor (the end-to-end test checks it).
    """

    name: str
    lhs: str
    op: str
    threshold: str
    for_: str
    severity: str
    summary: str
    description: str
    firing_series: tuple[tuple[str, str], ...]
    expected_labels: dict[str, str] = field(default_factory=dict)
    map_band: bool = False

    @property
    def expr(self) -> str:
        """The full alert expression."""
        core = f"{self.lhs} {self.op} {self.threshold}"
        return severity_label(core) if self.map_band else core


def severity_label(expr: str) -> str:
    """Copy the detector band to ``band`` and map it to an Alertmanager severity."""
    banded = f'label_replace({expr}, "band", "$1", "severity", "(.*)")'
    return f'label_replace({banded}, "severity", "critical", "severity", "high")'


def _minutes(duration: str) -> int:
    return int(duration[:-1]) * (60 if duration.endswith("h") else 1)


def alerts(c: Config = CONFIG) -> list[Alert]:
    """Every alert, for the detectors and for the monitor itself."""
    sel, job = c.selector, {"job": c.job}
    detector = [
        Alert(
            DETECTOR_ALERTS[signal][0], f'max by (model, category, signal, source, severity) (llm_safety_detector_alarm{{{sel}, signal="{signal}"}})',
            "==", "1", c.detector_for, "", DETECTOR_ALERTS[signal][1], description,
            ((f'llm_safety_detector_alarm{{job="{c.job}", instance="a", model="m", category="{category}", signal="{signal}", source="{source}", severity="critical"}}', "1x30"),),
            {"model": "m", "category": category, "signal": signal, "source": source, "severity": "critical", "band": "critical"},
            map_band=True,
        )
        # The test cases alternate sources: a canary stream's alarm is routed by the same rule.
        for signal, category, source, description in (
            ("refusal", "privacy", "canary", "{{ $labels.model }} refuses {{ $labels.category }} requests less often than its baseline ({{ $labels.band }}, {{ $labels.source }})."),
            ("false_refusal", "benign", "live", "{{ $labels.model }} refuses benign requests more often than its baseline ({{ $labels.band }}, {{ $labels.source }})."),
            ("toxicity", "all", "canary", "{{ $labels.model }} responses are more toxic than baseline ({{ $labels.band }}, {{ $labels.source }})."),
            ("incoherence", "all", "live", "{{ $labels.model }} produces more incoherent outputs than baseline ({{ $labels.band }}, {{ $labels.source }})."),
            ("uncertain", "all", "live", "The judges are unsure of more of {{ $labels.model }}'s responses than at baseline ({{ $labels.band }}, {{ $labels.source }})."),
        )
    ]  # fmt: skip
    own = [
        Alert("LlmSafetyMonitorDown", f"up{{{sel}}}", "==", "0", c.down_for, "critical",
              "The safety monitor is not being scraped.", "{{ $labels.instance }} has been down for 5 minutes.",
              ((f'up{{job="{c.job}", instance="a"}}', "0x30"),), job | {"instance": "a"}),
        Alert("LlmSafetyMonitorAbsent", f"absent(up{{{sel}}})", "==", "1", "10m", "critical",
              "No safety monitor is scraped at all.", "No target of job {{ $labels.job }} exists.",
              (("other_metric", "1x30"),), job),
        Alert("LlmSafetySamplesDropping",
              f"sum by (job, instance) (rate(llm_safety_samples_dropped_total{{{sel}}}[10m])) / clamp_min("
              f"sum by (job, instance) (rate(llm_safety_samples_taken_total{{{sel}}}[10m])), 1e-9)",
              ">", str(c.drop_ratio), "15m", "warning", "The monitor is losing sampled exchanges.",
              "{{ $labels.instance }} drops more than 5% of the exchanges it samples.",
              ((f'llm_safety_samples_dropped_total{{job="{c.job}", instance="a", reason="queue_full"}}', "0+60x40"),
               (f'llm_safety_samples_taken_total{{job="{c.job}", instance="a"}}', "0+60x40")), job | {"instance": "a"}),
        Alert("LlmSafetyScoringBacklog",
              f"max by (job, instance) (llm_safety_sample_queue_depth{{{sel}}} / llm_safety_sample_queue_capacity{{{sel}}})",
              ">", str(c.backlog_ratio), "10m", "warning", "The scoring queue is nearly full.",
              "The sample queue of {{ $labels.instance }} is more than 80% full.",
              ((f'llm_safety_sample_queue_depth{{job="{c.job}", instance="a"}}', "950x30"),
               (f'llm_safety_sample_queue_capacity{{job="{c.job}", instance="a"}}', "1000x30")), job | {"instance": "a"}),
        Alert("LlmSafetyScoringStalled",
              f"sum by (job, instance) (rate(llm_safety_samples_scored_total{{{sel}}}[10m])) == 0 and "
              f"sum by (job, instance) (rate(llm_safety_samples_taken_total{{{sel}}}[10m]))",
              ">", "0", "15m", "critical", "Samples are taken but none are scored.",
              "{{ $labels.instance }} takes samples but scores none.",
              ((f'llm_safety_samples_scored_total{{job="{c.job}", instance="a"}}', "0x40"),
               (f'llm_safety_samples_taken_total{{job="{c.job}", instance="a"}}', "0+60x40")), job | {"instance": "a"}),
        Alert("LlmSafetyClassifierErrors",
              f'sum by (job, instance) (rate(llm_safety_samples_dropped_total{{{sel}, reason="classifier_error"}}[10m]))',
              ">", "0", "10m", "warning", "A classifier is failing.",
              "{{ $labels.instance }} loses samples to classifier errors.",
              ((f'llm_safety_samples_dropped_total{{job="{c.job}", instance="a", reason="classifier_error"}}', "0+10x40"),),
              job | {"instance": "a"}),
        Alert("LlmSafetyNoTrafficSampled",
              f"sum by (job, instance) (rate(llm_safety_samples_taken_total{{{sel}}}[30m])) == 0 and "
              f'sum by (job, instance) (rate(llm_safety_proxy_requests_total{{{sel}, route!="other"}}[30m]))',
              ">", "0", "30m", "warning", "Completions flow but none is sampled.",
              "{{ $labels.instance }} proxies completions but samples none: check sampling settings.",
              ((f'llm_safety_samples_taken_total{{job="{c.job}", instance="a"}}', "0x80"),
               (f'llm_safety_proxy_requests_total{{job="{c.job}", instance="a", route="chat_completions", model="m", code_class="2xx"}}', "0+60x80")),
              job | {"instance": "a"}),
        # Behind by more than the threshold and not shrinking: a tap that is catching up stays quiet.
        Alert("LlmSafetyTapFallingBehind",
              f"max by (job, instance, topic, partition) (deriv(llm_safety_kafka_consumer_lag{{{sel}}}[10m])) >= 0 and "
              f"max by (job, instance, topic, partition) (llm_safety_kafka_consumer_lag{{{sel}}})",
              ">", str(c.tap_lag_records), c.tap_lag_for, "warning", "A tap consumer is falling behind its partition.",
              f"{{{{ $labels.instance }}}} is more than {c.tap_lag_records} records behind on {{{{ $labels.topic }}}} "
              "partition {{ $labels.partition }} and not catching up.",
              ((f'llm_safety_kafka_consumer_lag{{job="{c.job}", instance="a", topic="t", partition="0"}}', "20000+100x40"),),
              job | {"instance": "a", "topic": "t", "partition": "0"}),
    ]  # fmt: skip
    return detector + own


def recording_rules(c: Config = CONFIG) -> list[dict[str, str]]:
    """Fleet-wide aggregates across replicas, named ``level:metric:operations``."""
    sel = c.selector
    return [
        {"record": "model_route_code_class:llm_safety_proxy_requests:rate5m",
         "expr": f"sum by (model, route, code_class) (rate(llm_safety_proxy_requests_total{{{sel}}}[5m]))"},
        {"record": "reason:llm_safety_samples_dropped:rate5m",
         "expr": f"sum by (reason) (rate(llm_safety_samples_dropped_total{{{sel}}}[5m]))"},
        {"record": "job:llm_safety_samples_dropped:ratio_rate5m",
         "expr": f"sum by (job) (rate(llm_safety_samples_dropped_total{{{sel}}}[5m])) / clamp_min("
                 f"sum by (job) (rate(llm_safety_samples_taken_total{{{sel}}}[5m])), 1e-9)"},
        {"record": "job:llm_safety_proxy_overhead_seconds:p99_5m",
         "expr": f"histogram_quantile(0.99, sum by (job, le) (rate(llm_safety_proxy_overhead_seconds_bucket{{{sel}}}[5m])))"},
        {"record": "model_category_signal_source:llm_safety_detector_estimate_ratio:max",
         "expr": f"max by (model, category, signal, source) (llm_safety_detector_estimate_ratio{{{sel}}})"},
        {"record": "model_category_signal_source:llm_safety_detector_alarm:max",
         "expr": f"max by (model, category, signal, source, severity) (llm_safety_detector_alarm{{{sel}}})"},
        {"record": "job:llm_safety_canary_probes_failed:ratio_rate1h",
         "expr": f"sum by (job) (rate(llm_safety_canary_probes_failed_total{{{sel}}}[1h])) / clamp_min("
                 f"sum by (job) (rate(llm_safety_canary_probes_failed_total{{{sel}}}[1h])) + "
                 f"sum by (job) (rate(llm_safety_canary_probes_sent_total{{{sel}}}[1h])), 1e-9)"},
    ]  # fmt: skip


def rule_groups(c: Config = CONFIG) -> dict[str, Any]:
    """The Prometheus rule file."""
    alert_rules = [
        {"alert": a.name, "expr": a.expr, "for": a.for_,
         "labels": {"severity": a.severity} if a.severity else {},
         "annotations": {"summary": a.summary, "description": a.description,
                         "runbook_url": f"{c.runbook_base}{a.name}.md"}}
        for a in alerts(c)
    ]  # fmt: skip
    return {
        "groups": [
            {"name": "llm-safety-monitor.rules", "rules": recording_rules(c)},
            {"name": "llm-safety-monitor.alerts", "rules": alert_rules},
        ]
    }


def rule_tests(c: Config = CONFIG, rule_file: str = "rules.yaml") -> dict[str, Any]:
    """A promtool test per alert, named "<alert> fires when <condition>".

    Each asserts silence just before ``for`` elapses and firing just after (counting the first
    sample a rate or deriv window needs).
    """
    tests = []
    for a in alerts(c):
        held = _minutes(a.for_)
        lag = 1 if "rate(" in a.lhs or "deriv(" in a.lhs else 0
        labels = a.expected_labels | ({"severity": a.severity} if a.severity else {})
        tests.append({
            "name": f"{a.name} fires when {a.lhs} {a.op} {a.threshold} for {a.for_}",
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in a.firing_series],
            "alert_rule_test": [
                {"eval_time": f"{held + lag - 1}m", "alertname": a.name, "exp_alerts": []},
                {"eval_time": f"{held + lag + 1}m", "alertname": a.name,
                 "exp_alerts": [{"exp_labels": labels, "exp_annotations": {
                     "summary": a.summary, "description": _render(a.description, labels),
                     "runbook_url": f"{c.runbook_base}{a.name}.md"}}]},
            ],
        })  # fmt: skip
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}


def _render(template: str, labels: dict[str, str]) -> str:
    """Expand ``{{ $labels.x }}`` the way Prometheus will (descriptions use nothing else)."""
    for key, value in labels.items():
        template = template.replace(f"{{{{ $labels.{key} }}}}", value)
    return template
