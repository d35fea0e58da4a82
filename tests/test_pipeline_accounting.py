"""Each sample ends exactly once: processed, or dropped with the reason of the first stage that failed."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from monitor.errors import ClassifierError, SinkError
from monitor.events import Choice, Sample, Scores
from monitor.export.metrics import DROP_REASONS, Metrics
from monitor.pipeline import Pipeline
from monitor.sinks.memory import MemorySink

SCORES = Scores(1, 0.9, 0.01, 0, "privacy", 0.7, 0.8, False, (), False, (("privacy", 0.7), ("benign", 0.2)))


class BrokenScorer:
    """A classifier that always fails, as a dead worker does."""

    async def score(self, prompts, responses, finish):
        msg = "the worker died"
        raise ClassifierError(msg)

    def close(self) -> None:
        return None


class BrokenSink(MemorySink):
    """A sample log on a full disk."""

    def write(self, samples) -> None:
        msg = "no space left"
        raise SinkError(msg)


def sample(request_id: str, scores: Scores | None = None) -> Sample:
    return Sample(request_id, "chat_completions", "m", "hi", (Choice(0, "ok", "stop"),), 200, False, 0.0, 0.1,
                  scores=scores)  # fmt: skip


def ended(metrics: Metrics) -> dict[str, float]:
    value = metrics.registry.get_sample_value
    out = {r: value("llm_safety_samples_dropped_total", {"reason": r}) or 0.0 for r in DROP_REASONS}
    out["processed"] = value("llm_safety_samples_processed_total") or 0.0
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize(
    ("sinks", "expected"),
    [
        ("ok", {"classifier_error": 2, "processed": 1}),
        ("broken", {"classifier_error": 2, "sink_error": 1}),
    ],
)
async def test_a_failed_batch_is_counted_once(sinks, expected):
    """Two unscored samples meet a dead classifier; one already-scored sample rides along."""
    metrics = Metrics(CollectorRegistry())
    sink = MemorySink() if sinks == "ok" else BrokenSink()
    pipeline = Pipeline(asyncio.Queue(), [sink], metrics, scorer=BrokenScorer())
    await pipeline.submit([sample("a"), sample("b"), sample("c", SCORES)])
    assert ended(metrics) == expected
    if sinks == "ok":
        assert [s.request_id for s in sink.samples] == ["a", "b", "c"]  # still logged, unscored
