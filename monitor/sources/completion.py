"""OpenAI-compatible payloads → prompt text and completion choices (chat and legacy completions).

Works on the captured bytes off the hot path. Streams are reassembled from their SSE events:
``n > 1`` choices by index, tool-call deltas by (choice, tool index), ``usage`` when the server sends
it, and ``[DONE]``; a stream without ``[DONE]`` is marked incomplete. A gzip- or deflate-compressed
response (a compressing gateway, or OpenAI itself) is decompressed here, with a bound on the output.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import InvalidUtf8Error, NotJsonError, TruncatedCaptureError, UnsupportedPayloadError
from monitor.events import Choice, Exchange, Sample
from monitor.sources.sse import SseDecoder

__all__ = ["to_sample"]

_DONE = "[DONE]"
_MAX_DECODED_BYTES = 8 << 20  # a decompression bomb stops here, not in memory
# zlib's window bits: 16 + 15 reads gzip, 32 + 15 detects gzip or zlib; -15 is raw deflate.
_WBITS = {"gzip": (31,), "x-gzip": (31,), "deflate": (47, -15)}


def to_sample(exchange: Exchange) -> Sample:
    """Parse a captured exchange; raises a :class:`~monitor.errors.CaptureError` subclass if it can't."""
    if exchange.truncated:
        msg = "response exceeded the capture limit"
        raise TruncatedCaptureError(msg)
    request = _json(exchange.request_body)
    prompt = _prompt(exchange.route, request)
    chunks = _decoded(exchange)
    if exchange.streamed:
        choices, usage, done = _from_stream(chunks)
    else:
        choices, usage, done = _from_body(_json(b"".join(chunks)))
    return Sample(
        request_id=exchange.request_id,
        route=exchange.route,
        model=exchange.model,
        prompt=prompt,
        choices=choices,
        status=exchange.status,
        streamed=exchange.streamed,
        started_at=exchange.started_at,
        duration_seconds=exchange.duration_seconds,
        complete=exchange.complete and done,
        canary=exchange.canary,
        usage=usage,
        user=_user(request),
        canary_category=exchange.canary_category,
        canary_harmful=exchange.canary_harmful,
    )


def _user(request: Any) -> str | None:
    """The OpenAI ``user`` field, digested so no identifier is kept or logged as sent."""
    user = request.get("user") if isinstance(request, dict) else None
    if not isinstance(user, str) or not user:
        return None
    return hashlib.blake2b(user.encode(), digest_size=8).hexdigest()


def _decoded(exchange: Exchange) -> tuple[bytes, ...]:
    """The response as the client's library reads it: compressed bodies decompressed, bounded."""
    encoding = exchange.content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return exchange.response_chunks
    if encoding not in _WBITS:
        msg = f"response Content-Encoding {encoding!r} is not decoded (gzip and deflate are)"
        raise UnsupportedPayloadError(msg)
    body = exchange.response_body
    for wbits in _WBITS[encoding]:
        decoder = zlib.decompressobj(wbits)
        try:
            plain = decoder.decompress(body, _MAX_DECODED_BYTES)
        except zlib.error:
            continue
        if decoder.unconsumed_tail:
            msg = f"decompressed response exceeds {_MAX_DECODED_BYTES} bytes"
            raise TruncatedCaptureError(msg)
        return (plain,)
    msg = f"response is not valid {encoding}"
    raise UnsupportedPayloadError(msg)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        msg = "body is not valid UTF-8"
        raise InvalidUtf8Error(msg) from exc
    except ValueError as exc:
        msg = "body is not JSON"
        raise NotJsonError(msg) from exc


def _unsupported(what: str) -> UnsupportedPayloadError:
    return UnsupportedPayloadError(f"not an OpenAI-compatible payload: {what}")


def _prompt(route: str, request: Any) -> str:
    """The text being answered: the last user message (chat) or the prompt (completions)."""
    if not isinstance(request, dict):
        raise _unsupported("request is not an object")
    if route == "chat_completions":
        messages = request.get("messages")
        if not isinstance(messages, list):
            raise _unsupported("no messages")
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        return _content_text(users[-1].get("content")) if users else ""
    prompt = request.get("prompt")
    if isinstance(prompt, list):
        prompt = prompt[0] if prompt and isinstance(prompt[0], str) else ""
    if not isinstance(prompt, str):
        raise _unsupported("no prompt")
    return prompt


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _from_body(response: Any) -> tuple[tuple[Choice, ...], dict[str, Any], bool]:
    if not isinstance(response, dict) or not isinstance(response.get("choices"), list):
        raise _unsupported("response has no choices")
    choices = []
    for position, raw in enumerate(response["choices"]):
        if not isinstance(raw, dict):
            raise _unsupported("choice is not an object")
        found = raw.get("message")
        message: dict[str, Any] = found if isinstance(found, dict) else {}
        text = _content_text(message.get("content")) if message else str(raw.get("text") or "")
        calls = tuple(c for c in message.get("tool_calls") or () if isinstance(c, dict))
        choices.append(Choice(int(raw.get("index", position)), text, raw.get("finish_reason"), calls))
    return tuple(choices), _usage(response), True


@dataclass(slots=True)
class _Partial:
    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    tools: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add_tool_delta(self, delta: dict[str, Any]) -> None:
        call = self.tools.setdefault(int(delta.get("index", 0)), {"function": {"name": "", "arguments": ""}})
        for key in ("id", "type"):
            if delta.get(key):
                call[key] = delta[key]
        function = delta.get("function") or {}
        for key in ("name", "arguments"):
            call["function"][key] += function.get(key) or ""


def _from_stream(chunks: tuple[bytes, ...]) -> tuple[tuple[Choice, ...], dict[str, Any], bool]:
    decoder, partials, done = SseDecoder(), dict[int, _Partial](), False
    usage: dict[str, Any] = {}
    try:
        events = [event for chunk in chunks for event in decoder.feed(chunk)]
    except UnicodeDecodeError as exc:
        msg = "stream is not valid UTF-8"
        raise InvalidUtf8Error(msg) from exc
    for data in events:
        if data.strip() == _DONE:
            done = True
            continue
        event = _json(data.encode())
        if not isinstance(event, dict):
            raise _unsupported("stream event is not an object")
        usage = _usage(event) or usage
        for raw in event.get("choices") or ():
            _apply_delta(partials.setdefault(int(raw.get("index", 0)), _Partial()), raw)
    choices = tuple(
        Choice(index, "".join(p.parts), p.finish_reason, tuple(p.tools[i] for i in sorted(p.tools)))
        for index, p in sorted(partials.items())
    )
    return choices, usage, done


def _apply_delta(partial: _Partial, raw: dict[str, Any]) -> None:
    delta = raw.get("delta")
    if isinstance(delta, dict):
        if isinstance(delta.get("content"), str):
            partial.parts.append(delta["content"])
        for call in delta.get("tool_calls") or ():
            partial.add_tool_delta(call)
    elif isinstance(raw.get("text"), str):
        partial.parts.append(raw["text"])
    if raw.get("finish_reason"):
        partial.finish_reason = raw["finish_reason"]


def _usage(payload: dict[str, Any]) -> dict[str, Any]:
    usage = payload.get("usage")
    return dict(usage) if isinstance(usage, dict) else {}
