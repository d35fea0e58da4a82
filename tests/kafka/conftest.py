from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka_broker import Broker, require_kafka


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh ZooKeeper and broker (4 partitions per topic), stopped after the test."""
    require_kafka()
    running = Broker(tmp_path / "kafka")
    running.folder.mkdir()
    running.start()
    yield running
    running.stop()
