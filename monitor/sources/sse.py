"""Incremental Server-Sent Events decoding (WHATWG HTML §9.2), off the hot path."""

from __future__ import annotations

__all__ = ["SseDecoder"]


class SseDecoder:
    r"""Feed bytes in any chunking; get back the ``data`` of each complete event.

    Multi-line ``data`` fields are joined with ``\\n``; comments and other fields are ignored. A
    trailing event without its blank line is not returned (the stream was cut).
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Decode ``chunk``; raises ``UnicodeDecodeError`` on invalid UTF-8."""
        data = self._buffer + chunk
        # A CR at the end may be the first half of a CRLF split across chunks: keep it for later.
        held = b"\r" if data.endswith(b"\r") else b""
        data = data[: len(data) - len(held)]
        *lines, rest = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = rest + held
        events: list[str] = []
        for raw in lines:
            line = raw.decode("utf-8")
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                value = line[5:]
                self._data.append(value.removeprefix(" "))
        return events
