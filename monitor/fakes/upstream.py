"""A fake OpenAI-compatible model server, with routes that misbehave on purpose.

Well-behaved: ``GET /v1/models``, ``GET /health``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` (``stream``, ``n``, ``tools`` and ``stream_options.include_usage``).
Misbehaving: ``/slow?seconds=S``, ``/stream_then_reset``, ``/status/{code}``, ``/gzip``, ``/echo``.
The model name ``hold`` streams its first chunk, then waits for :meth:`FakeUpstream.release`; the
model name ``gzip`` gets its completion gzip-compressed, as from a server behind a compressing gateway.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

__all__ = ["FakeUpstream", "fake_reply"]

HOLD_MODEL = "hold"
GZIP_MODEL = "gzip"
CREATED = 1_700_000_000  # fixed, so two identical requests get identical bytes


def fake_reply(prompt: str) -> str:
    """A deterministic, harmless completion."""
    return f"This is a fake completion for a prompt of {len(prompt)} characters. It has two sentences."


class FakeUpstream:
    """An in-process model server.

    Parameters
    ----------
    reply
        Maps the prompt (last user message, or the completion prompt) to the completion text.
    chunk_delay_seconds
        Pause between streamed chunks.

    """

    def __init__(self, reply: Callable[[str], str] = fake_reply, chunk_delay_seconds: float = 0.0) -> None:
        self.reply = reply
        self.chunk_delay_seconds = chunk_delay_seconds
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.active_streams = 0
        self._gate: asyncio.Event | None = None

    def release(self) -> None:
        """Let held streams continue (call from the server's event loop)."""
        self._held().set()

    def _held(self) -> asyncio.Event:
        if self._gate is None:
            self._gate = asyncio.Event()
        return self._gate

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=64 << 20)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_route("*", "/slow", self._slow)
        app.router.add_route("*", "/stream_then_reset", self._stream_then_reset)
        app.router.add_route("*", "/status/{code}", self._status)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_route("*", "/echo", self._echo)
        return app

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((request.path_qs, dict(request.headers), body))
        return web.json_response(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body_length": len(body),
            }
        )

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", "5")))
        return web.Response(text="finally")

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        body = {"error": {"message": f"fake error {code}", "type": "fake", "param": None, "code": code}}
        return web.json_response(body, status=code)

    async def _gzip(self, _: web.Request) -> web.Response:
        body = gzip.compress(b'{"compressed": true}', mtime=0)
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    async def _stream_then_reset(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(
            _sse(_chunk("chat.completion.chunk", [{"index": 0, "delta": {"content": "Half"}}]))
        )
        await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()
        return response

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, chat=True)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, chat=False)

    async def _complete(self, request: web.Request, chat: bool) -> web.StreamResponse:
        raw = await request.read()
        self.received.append((request.path_qs, dict(request.headers), raw))
        try:
            body = json.loads(raw)
            prompt = _prompt_of(body, chat)
        except (ValueError, KeyError, TypeError, IndexError):
            err = {
                "error": {
                    "message": "could not parse the JSON body",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
            return web.json_response(err, status=400)
        text = self.reply(prompt)
        n = int(body.get("n") or 1)
        tools = bool(body.get("tools"))
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(request, body.get("model", ""), text, n, chat, tools, usage)
        kind = "chat.completion" if chat else "text_completion"
        choices = [_final_choice(i, text, chat, tools) for i in range(n)]
        response = web.json_response(_chunk(kind, choices) | {"usage": _usage(prompt, text, n)})
        if body.get("model") == GZIP_MODEL:
            response.enable_compression(web.ContentCoding.gzip)
        return response

    async def _stream(
        self, request: web.Request, model: str, text: str, n: int, chat: bool, tools: bool, usage: bool
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        if model == GZIP_MODEL:
            response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        kind = "chat.completion.chunk" if chat else "text_completion"
        self.active_streams += 1
        try:
            for number, piece in enumerate(_pieces(text)):
                if number == 1 and model == HOLD_MODEL:
                    await self._held().wait()
                deltas = [_delta(i, piece, chat) for i in range(n)]
                await response.write(_sse(_chunk(kind, deltas)))
                if self.chunk_delay_seconds:
                    await asyncio.sleep(self.chunk_delay_seconds)
            if tools and chat:
                await response.write(_sse(_chunk(kind, [_tool_delta(i) for i in range(n)])))
            finals = [_finish(i, chat, "tool_calls" if tools else "stop") for i in range(n)]
            await response.write(_sse(_chunk(kind, finals)))
            if usage:
                await response.write(_sse(_chunk(kind, []) | {"usage": _usage("", text, n)}))
            await response.write(b"data: [DONE]\n\n")
        finally:
            self.active_streams -= 1
        return response


def _prompt_of(body: dict[str, Any], chat: bool) -> str:
    if chat:
        users = [m for m in body["messages"] if m.get("role") == "user"]
        content = users[-1]["content"] if users else ""
        return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    prompt = body["prompt"]
    return prompt if isinstance(prompt, str) else prompt[0]


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _chunk(kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "fake-1", "object": kind, "created": CREATED, "model": "fake-model", "choices": choices}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _final_choice(index: int, text: str, chat: bool, tools: bool) -> dict[str, Any]:
    if not chat:
        return {"index": index, "text": text, "finish_reason": "stop", "logprobs": None}
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tools:
        message["tool_calls"] = [
            {"id": "call_0", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
        ]
    return {"index": index, "message": message, "finish_reason": "tool_calls" if tools else "stop"}


def _delta(index: int, piece: str, chat: bool) -> dict[str, Any]:
    if chat:
        return {"index": index, "delta": {"content": piece}, "finish_reason": None}
    return {"index": index, "text": piece, "finish_reason": None}


def _tool_delta(index: int) -> dict[str, Any]:
    calls = [
        {"index": 0, "id": "call_0", "type": "function", "function": {"name": "lookup", "arguments": '{"q"'}}
    ]
    return {"index": index, "delta": {"tool_calls": calls}, "finish_reason": None}


def _finish(index: int, chat: bool, reason: str) -> dict[str, Any]:
    return (
        {"index": index, "delta": {}, "finish_reason": reason}
        if chat
        else {"index": index, "text": "", "finish_reason": reason}
    )


def _usage(prompt: str, text: str, n: int) -> dict[str, int]:
    prompt_tokens, completion_tokens = len(prompt.split()), len(text.split()) * n
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
