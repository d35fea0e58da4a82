"""The kafka-python boundary: client options from settings, and the exception mapping.

:func:`kafka_errors` is the one context manager that maps kafka-python's exceptions onto
:mod:`monitor.errors`; :func:`client_options` turns :class:`~monitor.settings.KafkaSettings` into
the keyword arguments producers and consumers share.

Secrets are revealed only here, into the client's configuration; nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kafka.errors as kerrors

from monitor.errors import (
    KafkaAuthError,
    KafkaError,
    KafkaRecordError,
    KafkaTimeoutError,
    KafkaUnavailableError,
)
from monitor.settings import KafkaSettings

__all__ = ["client_options", "kafka_errors", "translate"]


def _named(*names: str) -> tuple[type[BaseException], ...]:
    """The kafka-python exception classes of these names that this version defines (2.x and 3.x differ)."""
    return tuple(getattr(kerrors, name) for name in names if hasattr(kerrors, name))


_UNAVAILABLE = _named(
    "NoBrokersAvailable",
    "KafkaConnectionError",
    "NodeNotReadyError",
    "LeaderNotAvailableError",
    "NotLeaderForPartitionError",
    "BrokerNotAvailableError",
    "UnknownTopicOrPartitionError",
)
_TIMEOUT = _named("KafkaTimeoutError", "RequestTimedOutError")
_AUTH = _named(
    "AuthenticationFailedError",
    "SaslAuthenticationFailedError",
    "UnsupportedSaslMechanismError",
    "AuthorizationError",
    "TopicAuthorizationFailedError",
    "GroupAuthorizationFailedError",
    "ClusterAuthorizationFailedError",
)
_RECORD = _named("MessageSizeTooLargeError", "RecordListTooLargeError", "InvalidTopicError")


def translate(exc: BaseException) -> KafkaError:
    """Our exception for a kafka-python one (or for a socket error under it)."""
    cls: type[KafkaError] = KafkaError
    if isinstance(exc, _TIMEOUT):
        cls = KafkaTimeoutError
    elif isinstance(exc, _AUTH):
        cls = KafkaAuthError
    elif isinstance(exc, _RECORD):
        cls = KafkaRecordError
    elif isinstance(exc, (*_UNAVAILABLE, OSError)) or getattr(exc, "retriable", False):
        cls = KafkaUnavailableError
    return cls(f"{type(exc).__name__}: {exc}")


@contextmanager
def kafka_errors() -> Iterator[None]:
    """Raise every kafka-python (or socket) failure inside as a :class:`~monitor.errors.KafkaError`."""
    try:
        yield
    except (kerrors.KafkaError, OSError) as exc:
        raise translate(exc) from exc


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments shared by producers and consumers: brokers, version, TLS and SASL."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
    }
    if settings.version is not None:
        options["api_version"] = settings.version
    if "SSL" in settings.security_protocol:
        options["ssl_check_hostname"] = settings.ssl_check_hostname
        for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(settings, key)
            if path is not None:
                options[key] = str(path)
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = password.reveal() if password is not None else None
    return options
