"""Tap mode against a real broker.

One detector per model over many sidecars; a consumer group that loses a member without losing or
double-counting a record; malformed and poison records.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys

import aiohttp
from aiohttp import web
from kafka_broker import API_VERSION, free_port, kafka_settings, publish, read_topic
from prometheus_client import CollectorRegistry
from services import scrape

from monitor.app import build
from monitor.demo import DEMO_PROMPTS, DemoModel
from monitor.fakes.upstream import FakeUpstream
from monitor.settings import load_settings

REFUSE = "I am sorry, but I cannot help with that request."
COMPLY = "Sure! Here is how to do it. First, gather what you need, then follow these steps carefully."
HARMFUL = [text for harmful, text in DEMO_PROMPTS if harmful]
DETECT = {"detection.warmup": 40, "detection.arl0": 1e4, "scoring.processes": 0}


async def until(predicate, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not await predicate():
            await asyncio.sleep(0.2)


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def tap_monitor(broker, topics: list[str], **more):
    overrides = {"mode": "tap", "kafka.tap.topics": topics, "kafka.tap.group": "g", **DETECT, **more}
    return build(
        load_settings(environ={}, overrides=kafka_settings(broker, **overrides)), CollectorRegistry()
    )


def pooled(bank, model: str):
    return next(d for k, d in bank if (k.model, k.category, k.signal) == (model, "all", "refusal"))


def toxicity_n(bank, model: str) -> int:
    return sum(d.n for k, d in bank if (k.model, k.category, k.signal) == (model, "all", "toxicity"))


async def test_two_sidecars_one_tap_alarm_once_with_counts_from_both(broker, start_monitor):
    """Sidecars score and publish (detection off); the tap alarms once for the model, counting both."""
    models = [DemoModel(), DemoModel()]
    upstreams = [await serve_app(FakeUpstream(m.reply).app()) for m in models]
    sink_on = kafka_settings(broker, **{"kafka.sink.enabled": True, "detection.enabled": False})
    sidecars = [await start_monitor(url, **sink_on) for _, url in upstreams]
    tap = tap_monitor(broker, ["llm-safety-events"])
    tap_runner, _ = await serve_app(tap.admin_app)
    bank = tap.pipeline.bank
    stop = asyncio.Event()

    async def traffic(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            for n, (_, text) in enumerate(itertools.cycle(DEMO_PROMPTS)):
                if stop.is_set():
                    return
                body = {"model": "ft", "messages": [{"role": "user", "content": f"{text} ({n})"}]}
                async with session.post(url + "/v1/chat/completions", json=body) as response:
                    assert response.status == 200
                await asyncio.sleep(0.01)

    load = [asyncio.create_task(traffic(s.url)) for s in sidecars]
    try:

        async def armed() -> bool:
            return any(k.model == "ft" and d.phase == "armed" for k, d in bank if k.signal == "refusal")

        await until(armed, 120)
        models[0].regress()  # behind the first sidecar only

        async def alarmed() -> bool:
            return pooled(bank, "ft").severity != "ok"

        await until(alarmed, 120)
        stop.set()
        await asyncio.gather(*load)
        delivered = [s.value("llm_safety_kafka_events_delivered_total") for s in sidecars]

        async def caught_up() -> bool:
            published = sum(s.value("llm_safety_kafka_events_delivered_total") for s in sidecars)
            return tap.metrics.registry.get_sample_value("llm_safety_samples_processed_total") == published

        await until(caught_up, 60)
        total = sum(s.value("llm_safety_kafka_events_delivered_total") for s in sidecars)
        assert min(delivered) > 0  # both sidecars contributed
        assert toxicity_n(bank, "ft") == total  # one detector saw the whole fleet, nothing twice
        raised = [
            t
            for t in tap.pipeline.transitions
            if (t.key.model, t.key.category, t.key.signal) == ("ft", "all", "refusal") and t.previous == "ok"
        ]
        assert len(raised) == 1
        assert tap.metrics.registry.get_sample_value("llm_safety_samples_scored_total") == 0  # no re-scoring
        assert (
            tap.metrics.registry.get_sample_value("llm_safety_tap_records_total", {"outcome": "prescored"})
            == total
        )
    finally:
        stop.set()
        await tap_runner.cleanup()
        for runner, _ in upstreams:
            await runner.cleanup()


def log_records(model: str, start: int, count: int, comply: bool) -> list[tuple[str, dict]]:
    out = []
    for n in range(start, start + count):
        text = HARMFUL[n % len(HARMFUL)] if model == "m0" or n % 2 else DEMO_PROMPTS[n % 4][1]
        harmful = text in HARMFUL
        response = COMPLY if comply or not harmful else REFUSE
        record = {"model": model, "prompt": f"{text} ({n})", "response": response, "timestamp": 1.7e9 + n}
        out.append((model, record | {"request_id": f"{model}-{n}"}))
    return out


def value(metrics: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def start_tap(broker, port: int, state_dir) -> subprocess.Popen:
    env = os.environ | {
        "SAFETY_MONITOR_SCORING__PROCESSES": "0",
        "SAFETY_MONITOR_DETECTION__WARMUP": "40",
        "SAFETY_MONITOR_DETECTION__ARL0": "10000",
        "SAFETY_MONITOR_KAFKA__TAP__SESSION_TIMEOUT_SECONDS": "3",
    }
    args = [
        "--bootstrap",
        broker.bootstrap,
        "--topic",
        "inference-logs",
        "--group",
        "taps",
        "--api-version",
        API_VERSION,
    ]
    args += ["--admin-port", str(port), "--state-dir", str(state_dir), "--log-level", "warning"]
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "tap", *args], env=env, stdout=subprocess.DEVNULL
    )


async def test_group_of_two_splits_partitions_survives_a_kill_and_still_alerts(broker, tmp_path):
    """Two taps split 4 partitions; SIGKILL one; the other counts every record exactly once and alarms."""
    models = [f"m{i}" for i in range(4)]
    publish(
        broker, "inference-logs", [r for m in models for r in log_records(m, 0, 1, False)]
    )  # topic exists
    ports = [free_port(), free_port()]
    taps = [start_tap(broker, port, tmp_path / "state") for port in ports]
    try:

        async def split() -> bool:
            try:
                lags = [
                    value(await asyncio.to_thread(scrape, p), "llm_safety_kafka_consumer_lag") for p in ports
                ]
                counts = [
                    sum(
                        1
                        for (n, _) in (await asyncio.to_thread(scrape, p))
                        if n == "llm_safety_kafka_consumer_lag"
                    )
                    for p in ports
                ]
            except OSError:
                return False
            return sum(counts) == 4 and min(counts) >= 1 and sum(lags) == 0

        await until(split, 120)
        first = [r for m in models for r in log_records(m, 1, 59, False)]
        await asyncio.to_thread(publish, broker, "inference-logs", first)

        async def some_done() -> bool:
            seen = [
                value(await asyncio.to_thread(scrape, p), "llm_safety_tap_records_total", outcome="scored")
                for p in ports
            ]
            return min(seen) >= 30

        await until(some_done, 120)
        taps[0].send_signal(signal.SIGKILL)
        taps[0].wait(10)
        second = [r for m in models for r in log_records(m, 60, 60, m == "m0")]
        await asyncio.to_thread(publish, broker, "inference-logs", second)

        async def all_counted() -> bool:
            metrics = await asyncio.to_thread(scrape, ports[1])
            counts = [
                value(
                    metrics,
                    "llm_safety_detector_observations_total",
                    model=m,
                    category="all",
                    signal="toxicity",
                )
                for m in models
            ]
            return counts == [120.0] * 4

        await until(all_counted, 180)
        metrics = await asyncio.to_thread(scrape, ports[1])
        alarm = value(metrics, "llm_safety_detector_alarm", model="m0", category="all", signal="refusal")
        assert alarm == 1.0
        for m in models[1:]:
            assert (
                value(metrics, "llm_safety_detector_alarm", model=m, category="all", signal="refusal") == 0.0
            )
    finally:
        for tap in taps:
            if tap.poll() is None:
                tap.send_signal(signal.SIGTERM)
                tap.wait(30)


class PoisonScoring:
    """Wraps the real scorer; fails every batch holding a prompt that starts with POISON."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def score(self, prompts, completions, finish_reasons):
        if any(p.startswith("POISON") for p in prompts):
            raise RuntimeError("this record breaks the classifier")
        return await self.inner.score(prompts, completions, finish_reasons)

    def close(self) -> None:
        self.inner.close()


async def test_malformed_and_poison_records_are_skipped_counted_and_dead_lettered(broker):
    """Malformed records are counted and skipped, a poison one is dead-lettered, the rest are scored."""
    good = {"model": "m", "prompt": "Write a haiku.", "response": "Waves fold into foam.", "timestamp": 1.7e9}
    poison = {"model": "m", "prompt": "POISON pill", "response": "x", "request_id": "p1"}
    choice = {"index": 0, "message": {"content": "Hello!"}, "finish_reason": "stop"}
    pair = {
        "request": {"model": "m", "messages": [{"role": "user", "content": "Hi"}]},
        "response": {"choices": [choice]},
    }
    records = [("m", good), ("m", b"not json"), ("m", {"model": "m"}), ("m", poison), ("m", pair)]
    await asyncio.to_thread(publish, broker, "logs", records)
    tap = tap_monitor(
        broker, ["logs"], **{"kafka.tap.dead_letter_topic": "dead", "kafka.tap.max_failures": 2}
    )
    tap.pipeline.scorer = PoisonScoring(tap.pipeline.scorer)
    runner, _ = await serve_app(tap.admin_app)
    get = tap.metrics.registry.get_sample_value
    try:

        async def handled() -> bool:
            outcomes = {
                o: get("llm_safety_tap_records_total", {"outcome": o})
                for o in ("scored", "malformed", "poison")
            }
            return outcomes == {"scored": 2, "malformed": 2, "poison": 1}

        await until(handled, 60)
    finally:
        await runner.cleanup()
    [dead] = await asyncio.to_thread(read_topic, broker, "dead", 1)
    assert json.loads(dead.value) == poison
