"""The event loop ``serve`` and ``tap`` run on: uvloop's when it is installed, else asyncio's.

uvloop (the ``fast`` extra, in the container image) relays the same bytes with less CPU per
request; nothing here depends on it, so a plain install runs unchanged.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop constructor: uvloop's when it can be imported, ``None`` (asyncio's default) otherwise."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest loop available."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
