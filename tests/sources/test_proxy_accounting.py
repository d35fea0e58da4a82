"""Every response the proxy gives is counted and logged, with the status the client saw."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import aiohttp
from structlog.testing import capture_logs

from monitor.errors import MonitorError
from monitor.sinks.memory import BlockingSink

CHAT = "/v1/chat/completions"
GOOD = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


async def post(url: str, data: bytes) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as response:
        await response.read()
        return response.status


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_oversize_body_is_counted_timed_and_logged(start_monitor, upstream_url):
    """A 413 shows up in the request counter, the duration histogram and the log."""
    running = await start_monitor(upstream_url, max_body_bytes=1024)
    with capture_logs() as logs:
        assert await post(running.url + CHAT, b"x" * 4096) == 413
    counted = {"route": "chat_completions", "model": "other", "code_class": "4xx"}
    assert running.value("llm_safety_proxy_requests_total", **counted) == 1
    assert running.value("llm_safety_proxy_request_duration_seconds_count", route="chat_completions") == 1
    rejected = [e for e in logs if e["event"] == "request_rejected"]
    assert [e["reason"] for e in rejected] == ["request_too_large"]
    assert running.value("llm_safety_proxy_requests_in_flight") == 0


async def test_cut_stream_is_recorded_as_the_status_the_client_saw(running):
    """An upstream that dies mid-stream is a 2xx request (as the client saw) plus an upstream error."""
    async with aiohttp.ClientSession() as session, session.post(running.url + "/stream_then_reset") as r:
        assert r.status == 200
        with contextlib.suppress(aiohttp.ClientPayloadError):
            await r.read()
    labels = {"route": "other", "model": "other"}
    await wait_for(lambda: running.value("llm_safety_proxy_requests_total", **labels, code_class="2xx") == 1)
    assert running.value("llm_safety_proxy_requests_total", **labels, code_class="5xx") == 0
    assert running.value("llm_safety_proxy_upstream_errors_total", reason="upstream_disconnect") == 1


async def test_refused_upstream_is_recorded_as_502(start_monitor, unused_tcp_port):
    """When no response was relayed, the proxy's own 502 is what is counted."""
    running = await start_monitor(f"http://127.0.0.1:{unused_tcp_port}")
    assert await post(running.url + CHAT, GOOD) == 502
    counted = {"route": "chat_completions", "model": "m", "code_class": "5xx"}
    assert running.value("llm_safety_proxy_requests_total", **counted) == 1
    assert running.value("llm_safety_proxy_upstream_errors_total", reason="upstream_connect") == 1


async def test_queue_full_drops_are_logged_with_their_count(start_monitor, upstream_url):
    """Drops from a full queue leave samples_dropped lines whose counts add up to the metric."""
    running = await start_monitor(upstream_url, **{"sampling.queue_size": 1})
    gate = threading.Event()
    running.monitor.pipeline.sinks = (BlockingSink(gate),)
    with capture_logs() as logs:
        for _ in range(6):
            assert await post(running.url + CHAT, GOOD) == 200
        running.monitor.metrics.drop_log.flush()
    gate.set()
    dropped = running.value("llm_safety_samples_dropped_total", reason="queue_full")
    lines = [e for e in logs if e["event"] == "samples_dropped" and e["reason"] == "queue_full"]
    assert dropped >= 3
    assert len(lines) == 2  # the first drop at once, the rest summed: not one line per drop
    assert sum(e["count"] for e in lines) == dropped


async def test_taken_counts_every_sampled_exchange_once(start_monitor, upstream_url):
    """Queued, queue-full and over-the-capture-limit exchanges all count as taken, then end somewhere."""
    running = await start_monitor(upstream_url, **{"sampling.capture_max_bytes": 1024})
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"a" * 4000 + b'"}]}'
    for body in (GOOD, big, GOOD):
        assert await post(running.url + CHAT, body) == 200

    def settled() -> bool:
        ended = running.value("llm_safety_samples_processed_total") + sum(
            running.value("llm_safety_samples_dropped_total", reason=r)
            for r in ("capture_truncated", "queue_full", "error_response")
        )
        return ended == 3

    await wait_for(settled)
    assert running.value("llm_safety_samples_taken_total") == 3
    assert running.value("llm_safety_samples_dropped_total", reason="capture_truncated") == 1


class ExplodingQueue:
    """A sample queue whose offer fails, as a bug in the capture path would."""

    def __init__(self, real) -> None:
        self.real = real

    def offer(self, exchange) -> bool:
        msg = "capture bug"
        raise RuntimeError(msg)

    def reject(self, reason: str) -> None:
        self.real.reject(reason)


async def test_capture_failure_is_absorbed_and_counted_as_a_drop(running):
    """A failure while queueing the copy never touches the response; the sample is a capture_error drop."""
    proxy = running.monitor.proxy
    proxy.queue = ExplodingQueue(proxy.queue)
    assert await post(running.url + CHAT, GOOD) == 200
    assert running.value("llm_safety_samples_dropped_total", reason="capture_error") == 1
    assert running.value("llm_safety_samples_taken_total") == 1
    internal = {"stage": "capture", "reason": MonitorError.reason}
    assert running.value("llm_safety_internal_errors_total", **internal) == 1
