"""Export stage: metrics, logs and (later) alerts."""

from __future__ import annotations

__all__: list[str] = []
