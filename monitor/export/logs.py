"""structlog, configured once: JSON lines, contextvars, a level filter, redaction; rate-limited drop lines."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["DROP_LOG_INTERVAL_SECONDS", "REDACTED_KEYS", "DropLog", "configure_logging", "redact_text"]

DROP_LOG_INTERVAL_SECONDS = 10.0

# Fields that may carry user content or credentials; removed unless capture_text is on
# (authorization is removed always).
REDACTED_KEYS = frozenset({"prompt", "response", "completion", "text", "messages", "body"})
_ALWAYS_REDACTED = frozenset({"authorization", "api_key"})


def redact_text(capture_text: bool) -> structlog.typing.Processor:
    """A processor that drops text fields (and always credentials) from every event."""
    keys = _ALWAYS_REDACTED if capture_text else REDACTED_KEYS | _ALWAYS_REDACTED

    def processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in keys & event.keys():
            event[key] = "[redacted]"
        return event

    return processor


def configure_logging(
    level: str = "info", fmt: str = "json", capture_text: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog for the whole process; call once at start-up."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_text(capture_text),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


class DropLog:
    """Log lost samples rate-limited: one ``samples_dropped`` line per reason per interval, with the count.

    The first drop of a quiet spell is logged at once; later ones are summed and logged when the
    reason's interval ends, so thousands of ``queue_full`` drops cost one line every
    ``interval_seconds``. Outside an event loop (a worker thread, a plain test) every call logs at once.

    Parameters
    ----------
    interval_seconds
        The shortest time between two lines for the same reason.

    """

    def __init__(self, interval_seconds: float = DROP_LOG_INTERVAL_SECONDS) -> None:
        self.interval_seconds = interval_seconds
        self.pending: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}  # reasons inside their interval
        self._log = structlog.get_logger("monitor.drops")

    def count(self, reason: str, n: int = 1) -> None:
        """Note ``n`` samples lost for ``reason``."""
        if reason in self._timers:
            self.pending[reason] = self.pending.get(reason, 0) + n
            return
        self._emit(reason, n)
        self._arm(reason)

    def flush(self) -> None:
        """Log everything pending now and end every interval (call it at shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        pending, self.pending = self.pending, {}
        for reason, n in sorted(pending.items()):
            self._emit(reason, n)

    def _interval_ended(self, reason: str) -> None:
        del self._timers[reason]
        n = self.pending.pop(reason, 0)
        if n:
            self._emit(reason, n)
            self._arm(reason)  # still dropping: stay rate-limited

    def _arm(self, reason: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timers[reason] = loop.call_later(self.interval_seconds, self._interval_ended, reason)

    def _emit(self, reason: str, n: int) -> None:
        self._log.warning("samples_dropped", reason=reason, count=n, interval_seconds=self.interval_seconds)
