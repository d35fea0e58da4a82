"""The scored-event sink against a real broker.

Complete and ordered under load; a broker that goes away costs the clients nothing, counts its
drops past the buffer, and is delivered to again once back.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from kafka_broker import kafka_settings, read_topic

from monitor.sinks.kafka import EVENT_SCHEMA, EVENT_VERSION

CHAT = "/v1/chat/completions"
TOPIC = "llm-safety-events"


async def send(url: str, model: str, n: int, session: aiohttp.ClientSession) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": f"Write a haiku, number {n}."}]}
    async with session.post(url + CHAT, json=body) as response:
        await response.read()
        return response.status


async def load(url: str, models: list[str], count: int, start: int = 0) -> list[int]:
    async with aiohttp.ClientSession() as session:
        jobs = [send(url, models[i % len(models)], start + i, session) for i in range(count)]
        return await asyncio.gather(*jobs)


async def until(predicate, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():
            await asyncio.sleep(0.1)


async def test_events_under_load_arrive_complete_and_in_order_per_model(broker, start_monitor, upstream_url):
    """200 concurrent requests over two models → 200 versioned events, each model's in pipeline order."""
    running = await start_monitor(upstream_url, **kafka_settings(broker, **{"kafka.sink.enabled": True}))
    statuses = await load(running.url, ["alpha", "beta"], 200)
    assert statuses == [200] * 200
    await until(lambda: running.value("llm_safety_kafka_events_delivered_total") >= 200, 60)
    records = await asyncio.to_thread(read_topic, broker, TOPIC, 200)
    events = [json.loads(r.value) for r in records]
    assert len(events) == 200
    assert {(e["schema"], e["version"]) for e in events} == {(EVENT_SCHEMA, EVENT_VERSION)}
    assert all(r.key.decode() == json.loads(r.value)["model"] for r in records)
    assert all("prompt" not in e and "text" not in e["choices"][0] and e["scores"] for e in events)
    for model in ("alpha", "beta"):
        logged = [s.request_id for s in running.sink.samples if s.model == model]
        published = [e["request_id"] for e in events if e["model"] == model]
        assert published == logged  # one partition per model key: the pipeline's order survives
    assert running.value("llm_safety_kafka_events_buffered") == 0


async def test_broker_down_costs_clients_nothing_drops_past_the_buffer_then_resumes(
    broker, start_monitor, upstream_url
):
    """Stop the broker: clients still get 200s, events past the buffer are dropped; restart: delivered."""
    options = {
        "kafka.sink.enabled": True,
        "kafka.sink.buffer_size": 20,
        "kafka.sink.retry_backoff_seconds": 0.5,
    }
    running = await start_monitor(upstream_url, **kafka_settings(broker, **options))
    assert await load(running.url, ["alpha"], 10) == [200] * 10
    await until(lambda: running.value("llm_safety_kafka_events_delivered_total") >= 10, 60)
    await asyncio.to_thread(broker.stop_broker)
    assert await load(running.url, ["alpha"], 60, start=10) == [200] * 60
    await until(lambda: len(running.sink.samples) >= 70, 60)
    dropped = running.value("llm_safety_kafka_events_dropped_total", reason="buffer_full")
    assert dropped >= 60 - 20  # at most the buffer waited
    assert running.value("llm_safety_kafka_events_buffered") <= 20
    await asyncio.to_thread(broker.start_broker)
    await until(lambda: running.value("llm_safety_kafka_events_buffered") == 0, 90)
    assert await load(running.url, ["alpha"], 10, start=70) == [200] * 10
    await until(lambda: len(running.sink.samples) >= 80, 60)
    await until(lambda: running.value("llm_safety_kafka_events_buffered") == 0, 60)
    delivered = running.value("llm_safety_kafka_events_delivered_total")
    assert delivered + dropped == 80  # every event ends delivered or dropped once
    records = await asyncio.to_thread(read_topic, broker, TOPIC, int(delivered))
    ids = [json.loads(r.value)["request_id"] for r in records]
    assert len(ids) == len(set(ids)) == delivered
    last = {s.request_id for s in running.sink.samples[-10:]}
    assert last <= set(ids)  # delivery resumed after the restart
