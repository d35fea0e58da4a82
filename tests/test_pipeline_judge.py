"""The external judge inside serve: after the classifiers, before the detectors, never in the way."""

from __future__ import annotations

import asyncio

import aiohttp
from services import free_port, start_app

from monitor.fakes.judge import FakeJudge

CHAT = "/v1/chat/completions"
EVERYTHING = [0.0, 1.0]  # a band that sends every coherent sample, so the fake model's answers go


def _judge(url: str) -> dict[str, object]:
    return {"scoring.judge.url": url, "scoring.judge.model": "guard", "scoring.judge.band": EVERYTHING}


async def _send(running, n: int) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Write a haiku about a lighthouse."}]}
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.post(running.url + CHAT, json=body) as response:
                assert response.status == 200
    async with asyncio.timeout(20):
        while len(running.sink.samples) < n:
            await asyncio.sleep(0.02)


async def test_judged_samples_reach_sinks_and_detectors(start_monitor, upstream_url):
    """Sent samples carry the judge's verdict to the sinks and the bank; repeats come from the cache."""
    fake = FakeJudge(decide=lambda _: "full_refusal")
    runner, judge_url = await start_app(fake.app())
    try:
        running = await start_monitor(upstream_url, **_judge(judge_url))
        await _send(running, 3)
    finally:
        await runner.cleanup()
    judged = [(s.scores.judge, s.scores.refusal, s.scores.refusal_prob) for s in running.sink.samples]
    assert judged == [("external", 1, 0.95)] * 3
    assert len(fake.received) == 1  # the same exchange three times
    assert running.value("llm_safety_judge_requests_total", outcome="verdict") == 1
    assert running.value("llm_safety_judge_requests_total", outcome="cached") == 2
    observed = running.value(
        "llm_safety_detector_observations_total", model="m", category="all", signal="toxicity", source="live"
    )
    assert observed == 3


async def test_an_unreachable_judge_costs_nothing_but_a_count(start_monitor, upstream_url):
    """With the judge down, samples are scored by the classifier, logged and detected as before."""
    dead = f"http://127.0.0.1:{free_port()}"
    running = await start_monitor(upstream_url, **_judge(dead))
    await _send(running, 2)
    assert all(s.scores is not None and s.scores.judge == "classifier" for s in running.sink.samples)
    assert running.value("llm_safety_judge_requests_total", outcome="judge_error") == 2
    assert running.value("llm_safety_judge_requests_total", outcome="cached") == 0
    assert running.value("llm_safety_samples_processed_total") == 2
    assert running.value("llm_safety_internal_errors_total", stage="judge", reason="internal_error") == 0


async def test_serve_without_a_judge_builds_none(start_monitor, upstream_url):
    """The default settings build no judge: the pipeline is what it was."""
    running = await start_monitor(upstream_url)
    assert running.monitor.pipeline.judge is None
