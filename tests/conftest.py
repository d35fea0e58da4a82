from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.app import Monitor, build
from monitor.fakes.upstream import FakeUpstream
from monitor.settings import load_settings
from monitor.sinks.memory import MemorySink

sys.path.insert(0, str(Path(__file__).parent))

from services import start_app


@dataclass
class Running:
    monitor: Monitor
    sink: MemorySink
    url: str
    admin_url: str

    def value(self, name: str, **labels: str) -> float:
        return self.monitor.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts with structlog's defaults.

    A CLI run in one test (``configure_logging``, with ``cache_logger_on_first_use``) must not stop
    ``capture_logs`` from seeing the next test's lines.
    """
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def fake() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
async def upstream_url(fake: FakeUpstream) -> AsyncIterator[str]:
    runner, url = await start_app(fake.app())
    yield url
    await runner.cleanup()


@pytest.fixture
async def start_monitor() -> AsyncIterator[Callable[..., Any]]:
    """Start proxy + admin for given settings overrides; everything is torn down after the test."""
    runners: list[web.AppRunner] = []

    async def start(upstream: str, **overrides: Any) -> Running:
        # A thread: instant start-up. Adaptive sampling off: a slow test machine's real loop lag must
        # not shed the copies a test counts (tests/test_shedding.py feeds it readings instead).
        defaults = {"upstream.url": upstream, "scoring.processes": 0, "sampling.adaptive.enabled": False}
        settings = load_settings(environ={}, overrides={**defaults, **overrides})
        sink = MemorySink()
        monitor = build(settings, CollectorRegistry(), sinks=[sink])
        proxy, url = await start_app(monitor.proxy_app)
        admin, admin_url = await start_app(monitor.admin_app)
        runners.extend([proxy, admin])
        return Running(monitor, sink, url, admin_url)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def running(start_monitor: Callable[..., Any], upstream_url: str) -> Running:
    """A monitor sampling everything in front of the fake upstream."""
    return await start_monitor(upstream_url)
