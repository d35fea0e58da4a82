"""Pure change detectors: numbers in, verdicts out. No I/O, asyncio or Prometheus."""

from __future__ import annotations

__all__: list[str] = []
