"""Small real implementations used by tests and the demo instead of mocks."""

from __future__ import annotations

from monitor.fakes.judge import FakeJudge
from monitor.fakes.upstream import FakeUpstream

__all__ = ["FakeJudge", "FakeUpstream"]
