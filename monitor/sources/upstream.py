"""The aiohttp client boundary: the upstream session, and aiohttp errors mapped to ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from monitor.errors import UpstreamConnectError, UpstreamDisconnectError, UpstreamError, UpstreamTimeoutError
from monitor.settings import UpstreamSettings

__all__ = ["map_upstream_errors", "open_session"]

# aiohttp would add these when the client did not send them; a transparent proxy must not.
_NO_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept", "Content-Type")


def open_session(settings: UpstreamSettings) -> aiohttp.ClientSession:
    """A pooled session that never decompresses, redirects or adds headers of its own."""
    timeout = aiohttp.ClientTimeout(
        total=None, connect=settings.connect_timeout_seconds, sock_read=settings.read_timeout_seconds
    )
    connector = aiohttp.TCPConnector(limit=settings.max_connections, limit_per_host=settings.max_connections)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=_NO_AUTO_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


@contextmanager
def map_upstream_errors() -> Iterator[None]:
    """Translate aiohttp client errors into :class:`UpstreamError` subclasses."""
    try:
        yield
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        msg = "upstream timed out"
        raise UpstreamTimeoutError(msg) from exc
    except aiohttp.ClientConnectorError as exc:
        msg = f"cannot connect to upstream: {exc.os_error.strerror or exc.os_error}"
        raise UpstreamConnectError(msg) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
        msg = "upstream closed the connection mid-response"
        raise UpstreamDisconnectError(msg) from exc
    except aiohttp.ClientError as exc:
        msg = f"upstream error: {type(exc).__name__}"
        raise UpstreamError(msg) from exc
