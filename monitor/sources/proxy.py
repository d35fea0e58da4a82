"""The hot path: stream every request to the upstream and its response back, byte for byte.

It never parses or transforms upstream bytes. For sampled exchanges it keeps a bounded copy of the
chunks and offers it to the sample queue when the exchange ends, whichever way it ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field

import aiohttp
import structlog
from aiohttp import web
from yarl import URL

from monitor.errors import CaptureError, TruncatedCaptureError, UpstreamError
from monitor.events import Exchange
from monitor.export.labels import ModelLabels, route_label
from monitor.export.metrics import Metrics
from monitor.failopen import FailOpen
from monitor.sampling import SampleQueue, Sampler, model_name
from monitor.sources.headers import REQUEST_ID, request_headers, response_headers
from monitor.sources.upstream import map_upstream_errors

__all__ = ["Proxy", "error_response"]

_STREAM_TYPE = "text/event-stream"


def error_response(status: int, message: str, code: str, request_id: str) -> web.Response:
    """An OpenAI-style JSON error body, so SDKs surface it like any API error."""
    kind = "invalid_request_error" if status < 500 else "upstream_error"  # noqa: PLR2004
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={REQUEST_ID: request_id},
    )


class _ClientGoneError(Exception):
    """The client closed its connection while we were writing to it."""


@dataclass(slots=True)
class _Tee:
    """A bounded copy of one exchange's response chunks."""

    limit: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.truncated = True
        else:
            self.chunks.append(chunk)


@dataclass(slots=True)
class _Exchange:
    """Mutable per-request bookkeeping; becomes an immutable :class:`Exchange` at the end."""

    request_id: str
    route: str
    model: str
    body: bytes
    started: float
    status: int = 502
    content_type: str = ""
    content_encoding: str = ""
    streamed: bool = False
    complete: bool = False
    tee: _Tee | None = None
    canary: str | None = None


class Proxy:
    """Forward every method and path to one upstream.

    Parameters
    ----------
    upstream
        Base URL of the model server; its path, if any, prefixes every forwarded path.
    session
        The client session (see :func:`monitor.sources.upstream.open_session`).
    sampler, queue
        Decide which exchanges to copy, and take the copies.
    labels
        Bounds the ``model`` label.
    metrics
        Where the proxy counts.
    capture_max_bytes
        The largest response copied for a sample; the client always gets all of it.
    canary_header
        Header that marks a canary probe.

    """

    def __init__(
        self,
        upstream: URL,
        session: aiohttp.ClientSession,
        sampler: Sampler,
        queue: SampleQueue,
        labels: ModelLabels,
        metrics: Metrics,
        capture_max_bytes: int,
        canary_header: str,
    ) -> None:
        self.upstream = upstream
        self.session = session
        self.sampler = sampler
        self.queue = queue
        self.labels = labels
        self.metrics = metrics
        self.capture_max_bytes = capture_max_bytes
        self.canary_header = canary_header
        self._prefix = upstream.raw_path.rstrip("/")
        self._guard = FailOpen("capture", metrics)
        self._log = structlog.get_logger("monitor.proxy")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Proxy one request."""
        started = time.perf_counter()
        request_id = request.headers.get(REQUEST_ID) or os.urandom(16).hex()  # 32 hex, cheaper than uuid4
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            return self._too_large(request, request_id, started, exc)
        ex = _Exchange(request_id, route_label(request.path), "other", body, started)
        with self._guard:
            self._start_capture(request, ex)
        self.metrics.in_flight.inc()
        try:
            return await self._relay(request, ex)
        except asyncio.CancelledError:
            self._client_gone(ex)  # the client went away while we waited on the upstream
            raise
        finally:
            self.metrics.in_flight.dec()
            self._finish(ex)

    def _too_large(
        self, request: web.Request, request_id: str, started: float, exc: web.HTTPRequestEntityTooLarge
    ) -> web.Response:
        # Counted and logged like any other response; the body was never read, so no model label.
        ex = _Exchange(request_id, route_label(request.path), "other", b"", started, status=413)
        reason = "request_too_large"
        self._log.warning("request_rejected", request_id=request_id, route=ex.route, reason=reason)
        self._finish(ex)
        return error_response(413, exc.text or "request body too large", reason, request_id)

    def _start_capture(self, request: web.Request, ex: _Exchange) -> None:
        name = model_name(ex.body) if ex.body else None
        ex.model = self.labels(name)
        if not self.sampler.decide(request.method, request.path, name, ex.request_id, request.headers):
            return
        if len(ex.body) > self.capture_max_bytes:
            self.queue.reject(TruncatedCaptureError.reason)  # keeps queued memory bounded
            return
        ex.tee = _Tee(self.capture_max_bytes)
        ex.canary = request.headers.get(self.canary_header)

    async def _relay(self, request: web.Request, ex: _Exchange) -> web.StreamResponse:
        url = self.upstream.with_path(self._prefix + request.raw_path, encoded=True)
        headers = request_headers(request.headers, ex.request_id)
        before = time.perf_counter()
        try:
            with map_upstream_errors():
                upstream = await self.session.request(
                    request.method, url, headers=headers, data=ex.body or None, allow_redirects=False
                )
        except UpstreamError as exc:
            return self._upstream_failed(ex, exc)
        try:
            return await self._stream(request, upstream, ex, before - ex.started)
        finally:
            # A fully read response returns its connection to the pool; anything else must not.
            if ex.complete:
                upstream.release()
            else:
                upstream.close()

    async def _stream(
        self, request: web.Request, upstream: aiohttp.ClientResponse, ex: _Exchange, overhead: float
    ) -> web.StreamResponse:
        received = time.perf_counter()
        ex.status = upstream.status
        ex.content_type = upstream.headers.get("Content-Type", "")
        ex.content_encoding = upstream.headers.get("Content-Encoding", "")
        ex.streamed = ex.content_type.startswith(_STREAM_TYPE)
        response = web.StreamResponse(
            status=upstream.status,
            reason=upstream.reason,
            headers=response_headers(upstream.headers, ex.request_id),
        )
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        try:
            await response.prepare(request)
        except ConnectionResetError:
            self._client_gone(ex)
            return response
        self.metrics.overhead.observe(overhead + time.perf_counter() - received)
        try:
            await self._pump(upstream, response, ex)
        except UpstreamError as exc:
            self._count_upstream_failure(ex, exc)  # ex.status stays what the client was sent
            if request.transport is not None:
                request.transport.close()  # a clean EOF would make a cut response look complete
            return response
        except _ClientGoneError:
            self._client_gone(ex)
            return response
        ex.complete = True
        return response

    async def _pump(
        self, upstream: aiohttp.ClientResponse, response: web.StreamResponse, ex: _Exchange
    ) -> None:
        reader, tee, first = upstream.content, ex.tee, ex.streamed
        # Entered once, not per chunk: a client's own failure leaves as _ClientGoneError, untranslated.
        with map_upstream_errors():
            while chunk := await reader.readany():
                try:
                    await response.write(chunk)
                except ConnectionResetError as exc:
                    raise _ClientGoneError from exc
                if first:
                    self.metrics.ttfb_by_route[ex.route].observe(time.perf_counter() - ex.started)
                    first = False
                if tee is not None:
                    tee.add(chunk)
        try:
            await response.write_eof()
        except ConnectionResetError as exc:
            raise _ClientGoneError from exc

    def _upstream_failed(self, ex: _Exchange, exc: UpstreamError) -> web.Response:
        self._count_upstream_failure(ex, exc)
        ex.status = exc.status
        return error_response(exc.status, str(exc), exc.reason, ex.request_id)

    def _count_upstream_failure(self, ex: _Exchange, exc: UpstreamError) -> None:
        self.metrics.upstream_error_by_reason[exc.reason].inc()
        self._log.warning("upstream_failed", request_id=ex.request_id, route=ex.route, reason=exc.reason)

    def _client_gone(self, ex: _Exchange) -> None:
        self.metrics.client_disconnects.inc()
        self._log.info("client_disconnected", request_id=ex.request_id, route=ex.route)

    def _finish(self, ex: _Exchange) -> None:
        duration = time.perf_counter() - ex.started
        self.metrics.duration_by_route[ex.route].observe(duration)
        self.metrics.request_counter(ex.route, ex.model, ex.status).inc()
        self._log.debug(
            "exchange_proxied",
            request_id=ex.request_id,
            route=ex.route,
            model=ex.model,
            status=ex.status,
            duration_seconds=duration,
            sampled=ex.tee is not None,
            complete=ex.complete,
        )
        if ex.tee is None:
            return
        offered = False
        with self._guard:
            self.queue.offer(self._freeze(ex, duration))
            offered = True
        if not offered:  # the guard absorbed a failure: the sample is still accounted for
            self.queue.reject(CaptureError.reason)

    @staticmethod
    def _freeze(ex: _Exchange, duration: float) -> Exchange:
        tee = ex.tee
        assert tee is not None  # noqa: S101 - only called for sampled exchanges
        return Exchange(
            request_id=ex.request_id,
            route=ex.route,
            model=ex.model,
            request_body=ex.body,
            status=ex.status,
            content_type=ex.content_type,
            response_chunks=tuple(tee.chunks),
            streamed=ex.streamed,
            started_at=time.time() - duration,
            duration_seconds=duration,
            complete=ex.complete,
            truncated=tee.truncated,
            canary=ex.canary,
            content_encoding=ex.content_encoding,
        )
