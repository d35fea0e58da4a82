"""Every exception the monitor raises, and the ``reason`` label each maps to.

Foreign exceptions (aiohttp, onnxruntime, kafka-python) are translated at their boundary by one
context manager each, so the rest of the code only ever sees this tree::

    MonitorError
    ├── ConfigError                 bad setting: names the key and the value (start-up only)
    ├── UpstreamError               the model server failed us
    │   ├── UpstreamConnectError    reason=upstream_connect   → 502 to the client
    │   ├── UpstreamTimeoutError    reason=upstream_timeout   → 504 to the client
    │   └── UpstreamDisconnectError reason=upstream_disconnect (mid-stream; the client sees a cut stream)
    ├── CaptureError                a sampled exchange could not be turned into a Sample
    │   ├── NotJsonError            reason=not_json
    │   ├── InvalidUtf8Error        reason=invalid_utf8
    │   ├── UnsupportedPayloadError reason=unsupported_payload
    │   └── TruncatedCaptureError   reason=capture_truncated
    ├── ClassifierError             reason=classifier_error (scoring failed; traffic unaffected)
    ├── SinkError                   reason=sink_error (a sink could not write)
    ├── JudgeError                  reason=judge_error (the LLM judge failed; the classifier's verdict stands)
    │   ├── JudgeTimeoutError       reason=judge_timeout
    │   └── JudgeReplyError         reason=judge_unparsable (an answer we cannot read as a verdict)
    └── KafkaError                  reason=kafka_error (kafka-python failed in another way)
        ├── KafkaUnavailableError   reason=kafka_unavailable (no broker or leader reachable: retried)
        ├── KafkaTimeoutError       reason=kafka_timeout (the broker did not answer in time: retried)
        ├── KafkaAuthError          reason=kafka_auth (SASL, TLS or an ACL refused us)
        └── KafkaRecordError        reason=kafka_record (the broker refused this record, e.g. too large)

Every leaf's ``reason`` is one value of a bounded metric label.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "CaptureError",
    "ClassifierError",
    "ConfigError",
    "InvalidUtf8Error",
    "JudgeError",
    "JudgeReplyError",
    "JudgeTimeoutError",
    "KafkaAuthError",
    "KafkaError",
    "KafkaRecordError",
    "KafkaTimeoutError",
    "KafkaUnavailableError",
    "MonitorError",
    "NotJsonError",
    "SinkError",
    "TruncatedCaptureError",
    "UnsupportedPayloadError",
    "UpstreamConnectError",
    "UpstreamDisconnectError",
    "UpstreamError",
    "UpstreamTimeoutError",
]


class MonitorError(Exception):
    """Base of every exception the monitor raises."""

    reason: ClassVar[str] = "internal_error"


class ConfigError(MonitorError):
    """A setting is invalid; ``key`` and ``value`` say which."""

    reason = "config_error"

    def __init__(self, key: str, value: Any, problem: str) -> None:
        self.key = key
        self.value = value
        self.problem = problem
        super().__init__(f"invalid setting {key}={value!r}: {problem}")


class UpstreamError(MonitorError):
    """The model server could not be reached or failed mid-exchange."""

    reason = "upstream_error"
    status: ClassVar[int] = 502


class UpstreamConnectError(UpstreamError):
    """The connection to the model server was refused or failed."""

    reason = "upstream_connect"


class UpstreamTimeoutError(UpstreamError):
    """The model server did not answer within the configured timeout."""

    reason = "upstream_timeout"
    status = 504


class UpstreamDisconnectError(UpstreamError):
    """The model server closed the connection before the response ended."""

    reason = "upstream_disconnect"


class CaptureError(MonitorError):
    """A sampled exchange could not be turned into a Sample."""

    reason = "capture_error"


class NotJsonError(CaptureError):
    """The request or response body is not JSON."""

    reason = "not_json"


class InvalidUtf8Error(CaptureError):
    """A body is not valid UTF-8."""

    reason = "invalid_utf8"


class UnsupportedPayloadError(CaptureError):
    """The body is JSON but not an OpenAI-compatible completion payload."""

    reason = "unsupported_payload"


class TruncatedCaptureError(CaptureError):
    """The exchange exceeded the capture limit, so its copy is incomplete."""

    reason = "capture_truncated"


class ClassifierError(MonitorError):
    """A classifier failed to score a batch."""

    reason = "classifier_error"


class SinkError(MonitorError):
    """A sink failed to write."""

    reason = "sink_error"


class JudgeError(MonitorError):
    """The external judge could not be reached or answered with an HTTP error."""

    reason = "judge_error"


class JudgeTimeoutError(JudgeError):
    """The external judge did not answer within ``scoring.judge.timeout_seconds``."""

    reason = "judge_timeout"


class JudgeReplyError(JudgeError):
    """The external judge answered, but not with a verdict in its configured format."""

    reason = "judge_unparsable"


class KafkaError(MonitorError):
    """kafka-python failed; translated at the boundary in :mod:`monitor.brokers`."""

    reason = "kafka_error"
    retriable: ClassVar[bool] = False


class KafkaUnavailableError(KafkaError):
    """No broker, or no leader for the partition, could be reached; retried after a backoff."""

    reason = "kafka_unavailable"
    retriable = True


class KafkaTimeoutError(KafkaError):
    """The broker did not acknowledge in time; retried after a backoff."""

    reason = "kafka_timeout"
    retriable = True


class KafkaAuthError(KafkaError):
    """Authentication (SASL, TLS) or authorization (an ACL) was refused."""

    reason = "kafka_auth"
    retriable = True  # credentials are often fixed without a restart (a rotated secret, a new ACL)


class KafkaRecordError(KafkaError):
    """The broker refused this record (too large, invalid topic): retrying cannot help."""

    reason = "kafka_record"
