"""Incremental SSE decoding."""

from __future__ import annotations

import pytest

from monitor.sources.sse import SseDecoder

STREAM = b"data: one\r\n\r\n: comment\n\ndata: two\ndata: lines\n\nevent: x\ndata: three\n\n"


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(STREAM)])
def test_any_chunking_gives_same_events(size):
    """Events are the same however the bytes are split, CRLF included."""
    decoder = SseDecoder()
    events = [e for i in range(0, len(STREAM), size) for e in decoder.feed(STREAM[i : i + size])]
    assert events == ["one", "two\nlines", "three"]


def test_unterminated_event_is_not_returned():
    """An event cut before its blank line is not emitted."""
    assert SseDecoder().feed(b"data: partial\n") == []
