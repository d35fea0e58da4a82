"""An in-memory sink: the fake that tests and the demo use instead of mocks."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from monitor.events import Sample

__all__ = ["MemorySink"]


class MemorySink:
    """Keeps every sample it is given, in order, in ``samples``."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.closed = False
        self._lock = threading.Lock()

    def write(self, samples: Sequence[Sample]) -> None:
        """Append the batch."""
        with self._lock:
            self.samples.extend(samples)

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
