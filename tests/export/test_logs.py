"""Structured logs never carry text or credentials unless configured."""

from __future__ import annotations

from monitor.export.logs import redact_text


def test_text_fields_redacted_by_default():
    """prompt/response fields are replaced; ordinary fields stay."""
    event = redact_text(capture_text=False)(None, "info", {"prompt": "p", "response": "r", "status": 200})
    assert event == {"prompt": "[redacted]", "response": "[redacted]", "status": 200}


def test_credentials_redacted_even_with_capture_text():
    """Authorization is never logged."""
    event = redact_text(capture_text=True)(None, "info", {"prompt": "p", "authorization": "Bearer x"})
    assert event == {"prompt": "p", "authorization": "[redacted]"}
