"""Exchange → Sample parsing, including every way a capture can be unusable."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from monitor.errors import InvalidUtf8Error, NotJsonError, TruncatedCaptureError, UnsupportedPayloadError
from monitor.events import Exchange
from monitor.sources.completion import to_sample

REQUEST = json.dumps(
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "part"}],
            },
        ],
    }
).encode()


def exchange(body: bytes, response: tuple[bytes, ...], streamed: bool = False, **kw) -> Exchange:
    return Exchange("r", "chat_completions", "m", body, 200, "", response, streamed, 0.0, 0.0, **kw)


def sse(*events: dict | str) -> tuple[bytes, ...]:
    return tuple(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events)


def test_content_parts_are_joined_as_prompt():
    """The prompt is the last user message, content parts joined."""
    body = json.dumps({"choices": [{"index": 0, "message": {"content": "ok"}}]}).encode()
    sample = to_sample(exchange(REQUEST, (body,)))
    assert sample.prompt == "first\npart"
    assert sample.completion == "ok"


def test_stream_without_done_is_incomplete():
    """A stream that never sent [DONE] is marked incomplete."""
    chunks = sse(
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
    )
    sample = to_sample(exchange(REQUEST, chunks, streamed=True))
    assert sample.completion == "Hello"
    assert not sample.complete
    assert to_sample(exchange(REQUEST, (*chunks, *sse("[DONE]")), streamed=True)).complete


def test_tool_call_arguments_concatenate():
    """Tool-call argument fragments are joined per tool index."""
    chunks = sse(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a"'}}
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}
            ]
        },
        "[DONE]",
    )
    [call] = to_sample(exchange(REQUEST, chunks, streamed=True)).choices[0].tool_calls
    assert call["function"] == {"name": "f", "arguments": '{"a": 1}'}


@pytest.mark.parametrize(
    ("body", "response", "error"),
    [
        (b"not json", (b"{}",), NotJsonError),
        (b'{"messages": [{"role": "user", "content": "\xff"}]}', (b"{}",), InvalidUtf8Error),
        (b'{"messages": "nope"}', (b"{}",), UnsupportedPayloadError),
        (REQUEST, (b'{"no": "choices"}',), UnsupportedPayloadError),
        (REQUEST, (b"<html>",), NotJsonError),
    ],
)
def test_unusable_captures_raise_their_reason(body, response, error):
    """Each kind of unusable capture raises the error whose reason labels the drop."""
    with pytest.raises(error):
        to_sample(exchange(body, response))


def test_invalid_utf8_in_stream():
    """Invalid UTF-8 inside a stream is a capture error, not a crash."""
    with pytest.raises(InvalidUtf8Error):
        to_sample(exchange(REQUEST, (b"data: \xff\n\n",), streamed=True))


def test_truncated_capture_is_refused():
    """A copy cut at the capture limit is never scored."""
    with pytest.raises(TruncatedCaptureError):
        to_sample(exchange(REQUEST, (b"{}",), truncated=True))


ANSWER = json.dumps(
    {"choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}]}
).encode()


@pytest.mark.parametrize(
    ("encoding", "compressed"),
    [
        ("gzip", gzip.compress(ANSWER)),
        ("deflate", zlib.compress(ANSWER)),  # what the HTTP spec calls deflate: zlib-wrapped
        ("deflate", zlib.compress(ANSWER, wbits=-15)),  # what some servers send: raw deflate
    ],
)
def test_compressed_responses_are_decoded(encoding, compressed):
    """Responses in gzip and in either flavour of deflate are read, however they were chunked."""
    chunks = (compressed[:7], compressed[7:])
    assert to_sample(exchange(REQUEST, chunks, content_encoding=encoding)).choices[0].text == "ok"


@pytest.mark.parametrize(
    ("encoding", "compressed", "error"),
    [
        ("br", b"\x0b\x01\x80", UnsupportedPayloadError),
        ("gzip", b"not gzip at all", UnsupportedPayloadError),
        ("gzip", gzip.compress(b" " * (9 << 20)), TruncatedCaptureError),  # a bomb stops at 8 MiB
    ],
)
def test_undecodable_responses_raise_their_reason(encoding, compressed, error):
    """An encoding we don't read, corrupt data or a decompression bomb is a counted drop."""
    with pytest.raises(error):
        to_sample(exchange(REQUEST, (compressed,), content_encoding=encoding))
