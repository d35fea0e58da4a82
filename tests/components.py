"""One rule for external components: missing fails under CI=true, skips elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


def require(name: str, available: bool, hint: str) -> None:
    """Fail (CI) or skip (laptop) when a component the test needs is missing."""
    if available:
        return
    msg = f"{name} is not available: {hint}"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def require_binary(binary: str, hint: str) -> str:
    """The path of ``binary``, or fail/skip."""
    path = shutil.which(binary)
    require(binary, path is not None, hint)
    assert path is not None
    return path
