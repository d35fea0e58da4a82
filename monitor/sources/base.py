"""The source seam: whatever offers work to the pipeline (the inline proxy, a Kafka tap, probes)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Source"]


class Source(Protocol):
    """A task the app starts and stops that offers Exchanges or Samples to the pipeline.

    ``name`` keys its readiness check on ``/readyz``.
    """

    name: str

    async def start(self) -> None:
        """Open connections and begin offering work; returns once started."""

    async def stop(self) -> None:
        """Stop offering work and release resources; what was offered is drained by the pipeline."""

    async def ready(self) -> bool:
        """Whether this source can take traffic now (for ``/readyz``)."""
        ...
