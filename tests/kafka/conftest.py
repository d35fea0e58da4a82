from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka_broker import API_VERSION, Broker, require_kafka

VERSION = tuple(int(p) for p in API_VERSION.split("."))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh ZooKeeper and broker (4 partitions per topic), stopped after the test."""
    require_kafka()
    running = Broker(tmp_path / "kafka")
    running.folder.mkdir()
    running.start()
    yield running
    running.stop()


def kafka_settings(broker: Broker, **more) -> dict:
    return {"kafka.bootstrap": [broker.bootstrap], "kafka.api_version": API_VERSION, **more}


def read_topic(broker: Broker, topic: str, expect: int, seconds: float = 30.0) -> list:
    """Every record of ``topic`` from the start (stops at ``expect`` records or after ``seconds``)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        api_version=VERSION,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(seconds * 1000),
    )
    records = []
    try:
        for record in consumer:
            records.append(record)
            if len(records) >= expect:
                break
    finally:
        consumer.close()
    return records


def producer(broker: Broker) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=VERSION)


def publish(broker: Broker, topic: str, records: list[tuple[str, object]]) -> None:
    """Send (key, value) records in order; a value that is not bytes is sent as JSON."""
    p = producer(broker)
    for key, value in records:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        p.send(topic, key=key.encode(), value=raw)
    p.flush(30)
    p.close()
