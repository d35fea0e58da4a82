"""serve and tap run on uvloop when it is installed, and on asyncio's loop without it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from monitor.eventloop import loop_factory, run


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


def test_uvloop_is_used_when_installed():
    """With uvloop importable, run() executes on its loop."""
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory() is uvloop.new_event_loop
    assert run(loop_module()) == "uvloop"


def test_asyncio_is_used_without_uvloop(monkeypatch):
    """When uvloop cannot be imported, run() falls back to asyncio's own loop."""
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` raise ImportError
    assert loop_factory() is None
    assert run(loop_module()) == "asyncio"
