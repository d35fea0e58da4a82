"""The sink protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from monitor.events import Sample

__all__ = ["Sink"]


class Sink(Protocol):
    """Takes batches of samples. ``write`` may block: the pipeline calls it from a worker thread."""

    def write(self, samples: Sequence[Sample]) -> None:
        """Persist or forward a batch; raise :class:`~monitor.errors.SinkError` on failure."""

    def close(self) -> None:
        """Flush and release resources."""
