"""End to end in one process: proxied exchanges are scored and feed the detector bank and metrics."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from monitor.errors import ClassifierError
from monitor.scoring.runner import ProcessScoring, ThreadScoring
from monitor.scoring.scorer import MODEL_DIR, Scorer

CHAT = "/v1/chat/completions"


async def test_proxied_samples_are_scored_and_detected(start_monitor, upstream_url):
    """A sampled exchange gains scores, feeds detectors, and the detector metrics appear."""
    running = await start_monitor(upstream_url, **{"detection.warmup": 5})
    body = {"model": "m", "messages": [{"role": "user", "content": "Write a haiku about a lighthouse."}]}
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(running.url + CHAT, json=body) as response:
                assert response.status == 200
    async with asyncio.timeout(20):
        while len(running.sink.samples) < 3:
            await asyncio.sleep(0.02)
    scores = running.sink.samples[0].scores
    assert scores is not None
    assert 0.0 <= scores.refusal_prob <= 1.0
    assert running.value("llm_safety_samples_scored_total") == 3
    observed = running.value(
        "llm_safety_detector_observations_total", model="m", category="all", signal="toxicity", source="live"
    )
    assert observed == 3


async def test_classifier_failure_keeps_samples_and_counts(start_monitor, upstream_url):
    """A crashing classifier is absorbed: traffic and the sample log carry on, the drop is counted."""
    running = await start_monitor(upstream_url)
    running.monitor.pipeline.scorer = CrashingScorer()
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    async with aiohttp.ClientSession() as session, session.post(running.url + CHAT, json=body) as response:
        assert response.status == 200
    async with asyncio.timeout(20):
        while not running.sink.samples:
            await asyncio.sleep(0.02)
    assert running.sink.samples[0].scores is None
    assert running.value("llm_safety_samples_dropped_total", reason="classifier_error") == 1
    assert running.value("llm_safety_internal_errors_total", stage="scoring", reason="classifier_error") == 1


class CrashingScorer:
    """A scorer whose model always fails, as a corrupt ONNX file would."""

    async def score(self, prompts, responses, finish):
        msg = "model exploded"
        raise ClassifierError(msg)

    def close(self) -> None:
        pass


async def test_process_scoring_matches_in_process():
    """Scoring in a worker process gives the same scores as in-process, and reports timings."""
    prompts, responses, finish = ["Write a haiku."], ["Waves fold into foam."], [None]
    pool = ProcessScoring(MODEL_DIR)
    try:
        remote, timings = await pool.score(prompts, responses, finish)
    finally:
        pool.close()
    local, _ = await ThreadScoring(Scorer()).score(prompts, responses, finish)
    assert remote == local
    assert set(timings) == {"features", "refusal", "toxicity", "harm_category", "encoder", "degeneracy"}


async def test_dead_scoring_worker_is_replaced():
    """A killed worker process costs one batch (ClassifierError); the next batch is scored."""
    pool = ProcessScoring(MODEL_DIR)
    try:
        await pool.score(["hi"], ["hello"], [None])
        for process in list(pool._pool._processes.values()):
            process.kill()
        with pytest.raises(ClassifierError):
            await pool.score(["hi"], ["hello"], [None])
        scores, _ = await pool.score(["hi"], ["hello"], [None])
        assert len(scores) == 1
    finally:
        pool.close()


async def test_scoring_worker_only_runs_on_idle_cpu():
    """The worker process runs under SCHED_IDLE at nice 10, so traffic on a shared core comes first."""
    pool = ProcessScoring(MODEL_DIR)
    try:
        await pool.score(["hi"], ["hello"], [None])
        (process,) = pool._pool._processes.values()
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        assert os.getpriority(os.PRIO_PROCESS, process.pid) >= 10
    finally:
        pool.close()
