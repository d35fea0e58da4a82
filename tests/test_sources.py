"""The source seam: a source can hand the pipeline Samples directly, scored or not."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from monitor.app import build
from monitor.events import Choice, Sample, Scores
from monitor.settings import load_settings
from monitor.sinks.memory import MemorySink
from monitor.sources.inline import ProxySource

SCORES = Scores(1, 0.9, 0.01, 0, "privacy", 0.7, 0.8, False, (), False, (("privacy", 0.7), ("benign", 0.2)))


def sample(request_id: str, scores: Scores | None = None) -> Sample:
    choices = (Choice(0, "I cannot help with that.", "stop"),)
    return Sample(request_id, "chat_completions", "m", "hello", choices, 200, False, 0.0, 0.1, scores=scores)


async def test_submitted_samples_are_scored_detected_and_written():
    """Samples submitted by a source skip parsing, are scored once, and reach the sinks and the bank."""
    settings = load_settings(
        environ={}, overrides={"scoring.processes": 0, "mode": "tap", "kafka.bootstrap": ["k:1"]}
    )
    sink = MemorySink()
    monitor = build(settings, CollectorRegistry(), sinks=[sink])
    assert not [s for s in monitor.sources if isinstance(s, ProxySource)]  # tap mode runs no proxy
    prescored = sample("b", SCORES)
    assert await monitor.pipeline.submit([sample("a"), prescored])
    assert [s.request_id for s in sink.samples] == ["a", "b"]
    assert sink.samples[1] is prescored  # already scored: not scored again
    registry = monitor.metrics.registry
    assert registry.get_sample_value("llm_safety_samples_scored_total") == 1
    assert registry.get_sample_value("llm_safety_samples_processed_total") == 2
    assert monitor.pipeline.bank is not None
    assert sum(1 for key, d in monitor.pipeline.bank if key.signal == "toxicity" and d.n == 2) == 1
    monitor.pipeline.scorer.close()


async def test_detection_off_scores_without_a_bank():
    """detection.enabled: false leaves the bank out; samples are still scored and written."""
    settings = load_settings(environ={}, overrides={"scoring.processes": 0, "detection.enabled": False})
    monitor = build(settings, CollectorRegistry(), sinks=[MemorySink()])
    assert monitor.pipeline.bank is None
    assert monitor.pipeline.scorer is not None
    monitor.pipeline.scorer.close()
