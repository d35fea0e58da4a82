"""The admin server, on its own port: ``/metrics``, ``/healthz``, ``/readyz`` and the status page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from yarl import URL

from monitor.status_page import StatusView, render_status, snapshot

__all__ = ["build_admin_app", "upstream_reachable"]

_PROBE_TIMEOUT_SECONDS = 1.0


async def upstream_reachable(url: URL) -> bool:
    """Whether a TCP connection to the upstream opens; cheap, and independent of the server's API."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.host, url.port), _PROBE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def build_admin_app(
    registry: CollectorRegistry,
    checks: Mapping[str, Callable[[], Awaitable[bool]]],
    pipeline_started: Callable[[], bool],
    streams: StatusView | None = None,
) -> web.Application:
    """The admin application.

    Parameters
    ----------
    registry
        Served at ``/metrics``.
    checks
        Readiness per source, by name (the proxy's ``upstream``, the tap's ``kafka``), for ``/readyz``.
    pipeline_started
        Whether the sample consumer runs; ``/readyz`` needs it.
    streams
        The detector bank, for the status page at ``/``; ``None`` when scoring is disabled.

    """

    async def metrics(_: web.Request) -> web.Response:
        body = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        found = {"pipeline": pipeline_started()} | {name: await check() for name, check in checks.items()}
        status = 200 if all(found.values()) else 503
        return web.json_response({"ready": status == 200, "checks": found}, status=status)  # noqa: PLR2004

    async def status(_: web.Request) -> web.Response:
        # Copied on the loop, like the bank's updates, so the page never sees a half-applied one;
        # formatted in a thread, because hundreds of charts would otherwise hold up the proxy.
        text = await asyncio.to_thread(render_status, snapshot(streams))
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
