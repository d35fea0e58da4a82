"""Fixtures for the gate tests: fake model servers on free ports, and a suite made for them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from gatekit import write_suite

from monitor.fakes.upstream import FakeUpstream


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., object]]:
    """Fake upstreams on free ports: awaiting the fixture with a reply gives (fake, url)."""
    runners: list[web.AppRunner] = []

    async def start(
        reply: Callable[[str], str], middlewares: tuple[object, ...] = ()
    ) -> tuple[FakeUpstream, str]:
        fake = FakeUpstream(reply)
        app = fake.app()
        app.middlewares.extend(middlewares)  # type: ignore[arg-type]
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return fake, f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return write_suite(tmp_path / "suite.jsonl")
