"""An in-memory sink: the fake that tests and the demo use instead of mocks."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from monitor.events import Sample

__all__ = ["BlockingSink", "MemorySink"]


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


class BlockingSink:
    """Blocks every write until ``gate`` is set (or 10 s pass): fills the sample queue in tests."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate

    def write(self, samples: Sequence[Sample]) -> None:  # noqa: ARG002 - the Sink protocol
        """Wait for the gate."""
        self.gate.wait(10)

    def close(self) -> None:
        """Open the gate, so nothing waits past shutdown."""
        self.gate.set()
