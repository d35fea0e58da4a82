"""structlog, configured once: JSON lines, contextvars, a level filter, and text redaction."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["REDACTED_KEYS", "configure_logging", "redact_text"]

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
