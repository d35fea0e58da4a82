"""Sources turn traffic into Exchanges: the inline proxy now, Kafka and probes later."""

from __future__ import annotations

__all__: list[str] = []
