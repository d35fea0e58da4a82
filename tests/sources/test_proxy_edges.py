"""The proxy under bad input and misbehaving peers: traffic unaffected, every loss counted."""

from __future__ import annotations

import asyncio
import gzip
import threading

import aiohttp
import pytest

from monitor.fakes.upstream import FakeUpstream, fake_reply
from monitor.sinks.memory import BlockingSink

CHAT = "/v1/chat/completions"
GOOD = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


async def post(url: str, data: bytes, **kwargs) -> tuple[int, bytes, dict]:
    async with aiohttp.ClientSession() as session, session.post(url, data=data, **kwargs) as response:
        return response.status, await response.read(), dict(response.headers)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_client_disconnect_mid_stream_cancels_upstream(running, fake: FakeUpstream):
    """A client that leaves mid-stream cancels the upstream request; nothing leaks."""
    body = b'{"model": "hold", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    session = aiohttp.ClientSession()
    response = await session.post(running.url + CHAT, data=body)
    assert (await response.content.readany()).startswith(b"data: ")
    assert fake.active_streams == 1
    response.close()
    await session.close()
    await wait_for(lambda: fake.active_streams == 0)
    await wait_for(lambda: running.value("llm_safety_proxy_client_disconnects_total") == 1)
    await wait_for(lambda: running.value("llm_safety_proxy_requests_in_flight") == 0)
    await wait_for(lambda: len(running.sink.samples) == 1)
    assert not running.sink.samples[0].complete
    fake.release()


async def test_upstream_reset_mid_stream_cuts_client_stream(running):
    """An upstream that dies mid-stream gives the client a cut stream, not a clean end."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(running.url + "/stream_then_reset") as response,
    ):
        first = await response.content.readany()
        try:
            await response.read()
            cut = False
        except aiohttp.ClientPayloadError:
            cut = True
    assert first.startswith(b"data: ")
    assert cut
    assert running.value("llm_safety_proxy_upstream_errors_total", reason="upstream_disconnect") == 1


async def test_oversize_body_gets_413(start_monitor, upstream_url, fake):
    """A body over max_body_bytes is refused with an OpenAI-style 413 and never forwarded."""
    running = await start_monitor(upstream_url, max_body_bytes=1024)
    status, body, _ = await post(running.url + CHAT, b"x" * 4096)
    assert status == 413
    assert b"request_too_large" in body
    assert fake.received == []


async def test_non_json_body_passes_through_untouched(running, fake):
    """A non-JSON body reaches the upstream byte for byte; the upstream's answer reaches the client."""
    status, _, _ = await post(running.url + CHAT, b"not json at all \x00\x01")
    assert status == 400
    assert fake.received[0][2] == b"not json at all \x00\x01"
    await wait_for(lambda: running.value("llm_safety_samples_dropped_total", reason="error_response") == 1)
    assert running.sink.samples == []


async def test_invalid_utf8_passes_through(running, fake):
    """Invalid UTF-8 is forwarded unchanged and does not disturb the proxy."""
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}'
    status, _, _ = await post(running.url + CHAT, raw)
    assert status == 400
    assert fake.received[0][2] == raw
    status, _, _ = await post(running.url + CHAT, GOOD)
    assert status == 200


async def test_full_queue_drops_and_counts_but_serves(start_monitor, upstream_url):
    """With the queue full, requests still succeed and each lost copy is counted."""
    running = await start_monitor(upstream_url, **{"sampling.queue_size": 1})
    gate = threading.Event()
    running.monitor.pipeline.sinks = (BlockingSink(gate),)
    statuses = [(await post(running.url + CHAT, GOOD))[0] for _ in range(5)]
    gate.set()
    assert statuses == [200] * 5
    taken = running.value("llm_safety_samples_taken_total")
    dropped = running.value("llm_safety_samples_dropped_total", reason="queue_full")
    assert dropped >= 3
    assert taken == 5  # every sampled exchange is taken; a full queue then drops it


async def test_headers_hop_by_hop_and_request_id(running, fake):
    """Hop-by-hop headers stop at the proxy; Authorization passes; a request id is added."""
    headers = {
        "Authorization": "Bearer sk-secret",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "1",
        "X-End": "2",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(running.url + "/echo", headers=headers) as response,
    ):
        echoed = (await response.json())["headers"]
    assert echoed["Authorization"] == "Bearer sk-secret"
    assert echoed["X-End"] == "2"
    assert "X-Hop" not in echoed
    assert len(echoed["X-Request-ID"]) == 32
    assert response.headers["X-Request-ID"] == echoed["X-Request-ID"]


async def test_request_id_is_honoured(running):
    """A client's X-Request-ID is forwarded and returned unchanged."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(running.url + "/echo", headers={"X-Request-ID": "abc-123"}) as response,
    ):
        echoed = (await response.json())["headers"]
    assert echoed["X-Request-ID"] == "abc-123"
    assert response.headers["X-Request-ID"] == "abc-123"


async def test_compressed_body_is_not_decompressed(running):
    """Content-Encoding and the compressed bytes are relayed as they are."""
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(running.url + "/gzip") as response,
    ):
        body = await response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b'{"compressed": true}'


@pytest.mark.parametrize("stream", [False, True])
async def test_compressed_completion_is_relayed_compressed_and_captured_decoded(running, stream):
    """A gzip completion reaches the client as sent; the off-path copy is decompressed and parsed."""
    request = {"model": "gzip", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(running.url + CHAT, json=request) as response,
    ):
        body = await response.read()
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b"data: " if stream else b"{")
    await wait_for(lambda: len(running.sink.samples) == 1)
    sample = running.sink.samples[0]
    assert sample.complete
    assert sample.choices[0].text == fake_reply("hi")


async def test_model_server_routes_pass_through(running):
    """/v1/models and /health of the model server work through the proxy."""
    async with aiohttp.ClientSession() as session:
        async with session.get(running.url + "/v1/models") as models:
            assert (await models.json())["data"][0]["id"] == "fake-model"
        async with session.get(running.url + "/health") as health:
            assert await health.text() == "ok"


async def test_large_request_is_forwarded_but_not_copied(start_monitor, upstream_url, fake):
    """A request over the capture limit is proxied in full; its copy is dropped and counted."""
    running = await start_monitor(upstream_url, **{"sampling.capture_max_bytes": 1024})
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"a" * 4000 + b'"}]}'
    status, _, _ = await post(running.url + CHAT, big)
    assert status == 200
    assert fake.received[0][2] == big
    assert running.value("llm_safety_samples_dropped_total", reason="capture_truncated") == 1
    assert running.value("llm_safety_samples_taken_total") == 1  # taken, then dropped
