"""The real openai SDK, sync and async, through the proxy to the fake upstream."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Name a colour."}]


async def samples(running, count: int, timeout: float = 10.0):
    """Wait until the pipeline has handed ``count`` samples to the sink."""
    async with asyncio.timeout(timeout):
        while len(running.sink.samples) < count:
            await asyncio.sleep(0.01)
    return running.sink.samples


def sync_client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)


def async_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)


async def test_sync_non_streaming_body_is_byte_identical(running, upstream_url):
    """A non-streamed completion arrives through the proxy with exactly the upstream's bytes."""

    def call(url: str) -> bytes:
        raw = sync_client(url).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
        return raw.http_response.content

    proxied, direct = await asyncio.to_thread(call, running.url), await asyncio.to_thread(call, upstream_url)
    assert proxied == direct
    [sample] = await samples(running, 1)
    assert sample.prompt == "Name a colour."
    assert sample.completion.startswith("This is a fake completion")


async def test_sync_streaming_reassembles_text(running):
    """A sync streamed completion reaches the client whole and is reassembled off the hot path."""

    def call() -> str:
        stream = sync_client(running.url).chat.completions.create(model="m", messages=MESSAGES, stream=True)
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    text = await asyncio.to_thread(call)
    [sample] = await samples(running, 1)
    assert sample.streamed
    assert sample.complete
    assert sample.completion == text


async def test_async_streaming_with_n_and_usage(running):
    """n>1 choices and the usage chunk are reassembled per choice."""
    stream = await async_client(running.url).chat.completions.create(
        model="m", messages=MESSAGES, stream=True, n=2, stream_options={"include_usage": True}
    )
    texts: dict[int, str] = {0: "", 1: ""}
    async for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    [sample] = await samples(running, 1)
    assert [c.text for c in sample.choices] == [texts[0], texts[1]]
    assert sample.usage["completion_tokens"] > 0
    assert {c.finish_reason for c in sample.choices} == {"stop"}


async def test_async_non_streaming_completions_route(running):
    """The legacy completions route works and is captured."""
    result = await async_client(running.url).completions.create(model="m", prompt="Count to three.")
    [sample] = await samples(running, 1)
    assert sample.route == "completions"
    assert sample.completion == result.choices[0].text


async def test_tool_call_deltas_are_assembled(running):
    """Streamed tool-call deltas become one call per tool index."""
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    stream = await async_client(running.url).chat.completions.create(
        model="m", messages=MESSAGES, stream=True, tools=tools
    )
    async for _ in stream:
        pass
    [sample] = await samples(running, 1)
    [call] = sample.choices[0].tool_calls
    assert call["function"]["name"] == "lookup"
    assert sample.choices[0].finish_reason == "tool_calls"


async def test_stream_is_not_buffered(running, fake):
    """The client gets chunk 1 while the upstream still holds chunk 2 back."""
    stream = await async_client(running.url).chat.completions.create(
        model="hold", messages=MESSAGES, stream=True
    )
    iterator = stream.__aiter__()
    first = await asyncio.wait_for(iterator.__anext__(), timeout=10)
    assert first.choices[0].delta.content == "This"
    fake.release()
    rest = [chunk async for chunk in iterator]
    assert rest


async def test_upstream_down_gives_502(start_monitor, unused_tcp_port):
    """Connection refused becomes an OpenAI-style 502 the SDK raises as an API error."""
    running = await start_monitor(f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(openai.APIStatusError) as info:
        await async_client(running.url).chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_connect"
    assert running.value("llm_safety_proxy_upstream_errors_total", reason="upstream_connect") == 1


async def test_slow_upstream_gives_504(start_monitor, upstream_url):
    """An upstream silent past the read timeout becomes a 504."""
    running = await start_monitor(upstream_url, **{"upstream.read_timeout_seconds": 0.2})
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/slow?seconds=3") as response:
        body = await response.json()
    assert response.status == 504
    assert body["error"]["code"] == "upstream_timeout"


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
async def test_upstream_errors_pass_through(running, upstream_url, status):
    """4xx/5xx from the upstream reach the client unchanged and are not scored."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{running.url}/status/{status}", data=b"{}") as proxied:
            proxied_body = await proxied.read()
        async with session.post(f"{upstream_url}/status/{status}", data=b"{}") as direct:
            direct_body = await direct.read()
    assert proxied.status == status
    assert proxied_body == direct_body
    assert (
        running.value(
            "llm_safety_proxy_requests_total", route="other", model="other", code_class=f"{status // 100}xx"
        )
        == 1
    )
