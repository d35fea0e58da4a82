"""Hop-by-hop header filtering (RFC 9110 §7.6.1) for both directions of the proxy."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["HOP_BY_HOP", "REQUEST_ID", "request_headers", "response_headers"]

REQUEST_ID = "X-Request-ID"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# The client library sets these from the target URL and the body it sends.
_REQUEST_OWN = frozenset({"host", "content-length"})
# aiohttp sets Content-Length from StreamResponse.content_length.
_RESPONSE_OWN = frozenset({"content-length"})


_DROP_REQUEST = HOP_BY_HOP | _REQUEST_OWN
_DROP_RESPONSE = HOP_BY_HOP | _RESPONSE_OWN


def _filtered(headers: CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    if "Connection" in headers:  # rare on HTTP/1.1 keep-alive: only then is there more to drop
        named = {
            token.strip().lower() for value in headers.getall("Connection") for token in value.split(",")
        }
        drop = drop | named
    return CIMultiDict([(k, v) for k, v in headers.items() if k.lower() not in drop])


def request_headers(headers: CIMultiDictProxy[str], request_id: str) -> CIMultiDict[str]:
    """Headers to send upstream: end-to-end ones, unchanged, plus the request id."""
    out = _filtered(headers, _DROP_REQUEST)
    out[REQUEST_ID] = request_id
    return out


def response_headers(headers: CIMultiDictProxy[str], request_id: str) -> CIMultiDict[str]:
    """Headers to send to the client: end-to-end ones, unchanged, plus the request id."""
    out = _filtered(headers, _DROP_RESPONSE)
    out[REQUEST_ID] = request_id
    return out
