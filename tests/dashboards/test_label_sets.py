"""The catalogue lists every label's closed set, and the sets are the ones the code binds."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from dashboards.catalogue import label_set, render
from monitor.export.metrics import CATALOGUE, DROP_REASONS, Metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
OPEN = {"model", "version", "topic", "partition"}  # set by configuration


def test_every_label_has_a_closed_set():
    """Each label of each metric is a registered closed set (model and version are set by configuration)."""
    missing = [
        (spec.name, label)
        for spec in CATALOGUE
        for label in spec.labels
        if label not in OPEN and label_set(label, spec.name) is None
    ]
    assert missing == []
    assert "**not registered**" not in render()


@pytest.mark.parametrize(
    ("metric", "label"),
    [
        ("llm_safety_samples_dropped_total", "reason"),
        ("llm_safety_proxy_upstream_errors_total", "reason"),
        ("llm_safety_judgements_excluded_total", "reason"),
        ("llm_safety_internal_errors_total", "stage"),
        ("llm_safety_classifier_inference_seconds_count", "classifier"),
        ("llm_safety_alerts_sent_total", "sink"),
        ("llm_safety_proxy_request_duration_seconds_count", "route"),
        ("llm_safety_proxy_requests_total", "code_class"),
    ],
)
def test_documented_set_is_what_start_up_creates(metric, label):
    """The values listed are exactly the children created (as zeros) at start-up."""
    registry = CollectorRegistry()
    Metrics(registry, ["m"])
    created = {
        sample.labels[label]
        for family in registry.collect()
        for sample in family.samples
        if sample.name == metric
    }
    family = next(spec.name for spec in CATALOGUE if metric.startswith(spec.name))
    assert created == set(label_set(label, family) or ())


def test_every_drop_reason_is_explained_in_the_committed_catalogue():
    """docs/metrics.md has a row with a meaning for each drop reason, capture_error included."""
    text = DOC.read_text(encoding="utf-8")
    for reason in DROP_REASONS:
        row = next((line for line in text.splitlines() if line.startswith(f"| `{reason}` |")), "")
        assert len(row) > len(reason) + 10, reason
    assert "`capture_error`" in text
