"""The scored-event sink: every scored sample → one JSON event on a Kafka topic, keyed by model.

``write`` (called from the pipeline's worker thread) only appends to a bounded buffer and returns;
a producer thread of its own delivers from the buffer, so a slow or absent broker never blocks the
pipeline, let alone the proxy. While the broker is down events wait in the buffer, up to
``buffer_size``; past it new events are dropped and counted. An event leaves the buffer only once the
broker acknowledged it, or refused it for good (too large); otherwise it is retried, in order, after
``retry_backoff_seconds``, with a fresh producer after a failure. That is at-least-once: an
acknowledgement lost with a connection can send an event twice, which the tap's dedup absorbs.

The event (``schema`` ``llm-safety-monitor/scored-event``, ``version`` 1) is the sample log's record
(:func:`~monitor.sinks.jsonl.sample_record`: lengths and SHA-256 digests, text only with
``capture_text``) plus the scores. See the README's *Kafka* section for every field.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from kafka import KafkaProducer

from monitor.brokers import client_options, kafka_errors, translate
from monitor.errors import KafkaError
from monitor.events import Sample
from monitor.export.metrics import Metrics
from monitor.settings import KafkaSettings
from monitor.sinks.jsonl import sample_record

__all__ = ["EVENT_SCHEMA", "EVENT_VERSION", "KafkaSink", "event"]

EVENT_SCHEMA = "llm-safety-monitor/scored-event"
EVENT_VERSION = 1
_BATCH = 500  # events per produce round: bounds the retry unit and the time between buffer checks
_FLUSH_SECONDS = 10.0
_LOG_INTERVAL_SECONDS = 10.0
_Event = tuple[bytes, bytes]  # (key, value)


def event(sample: Sample, capture_text: bool) -> dict[str, Any]:
    """The versioned event of one scored sample; text only when ``capture_text``."""
    return {"schema": EVENT_SCHEMA, "version": EVENT_VERSION, **sample_record(sample, capture_text)}


class KafkaSink:
    """Publish scored samples to ``settings.sink.topic`` from a producer thread, never blocking.

    Parameters
    ----------
    settings
        The kafka section: brokers, security, and the sink's topic, buffer and backoff.
    metrics
        Where delivered, failed, dropped and buffered events are counted.
    capture_text
        Put prompt and completion text in the events (off by default: privacy).
    producer
        Makes the kafka-python producer (replaced in tests); called again after every failure.

    """

    def __init__(
        self,
        settings: KafkaSettings,
        metrics: Metrics,
        capture_text: bool = False,
        producer: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.capture_text = capture_text
        self.topic = settings.sink.topic
        self.buffer_size = settings.sink.buffer_size
        self._make = producer or self._producer
        self._buffer: deque[_Event] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._deadline = 0.0
        self._logged_at, self._dropped_since_log = -_LOG_INTERVAL_SECONDS, 0
        self._delivered = metrics.kafka_delivered
        self._full = metrics.kafka_dropped_by_reason["buffer_full"]
        self._log = structlog.get_logger("monitor.sinks.kafka")
        metrics.kafka_buffered.set_function(lambda: len(self._buffer))
        self._thread = threading.Thread(target=self._run, name="kafka-sink", daemon=True)
        self._thread.start()

    def _producer(self) -> Any:
        options = client_options(self.settings) | {
            "acks": 1,
            "retries": 0,  # retried here, from our own bounded buffer, in order
            "max_in_flight_requests_per_connection": 1,
            "linger_ms": 5,
            "max_block_ms": 5000,
            "request_timeout_ms": 5000,
            "reconnect_backoff_max_ms": 2000,
        }
        with kafka_errors():
            return KafkaProducer(**options)

    def write(self, samples: Sequence[Sample]) -> None:
        """Buffer the scored samples' events; those past ``buffer_size`` are dropped and counted."""
        events = [
            (s.model.encode(), json.dumps(event(s, self.capture_text), ensure_ascii=False).encode())
            for s in samples
            if s.scores is not None
        ]
        with self._wake:
            room = max(self.buffer_size - len(self._buffer), 0)
            self._buffer.extend(events[:room])
            self._wake.notify()
        if len(events) > room:
            self._full.inc(len(events) - room)
            self._dropped_since_log += len(events) - room
            if time.monotonic() - self._logged_at >= _LOG_INTERVAL_SECONDS:  # rate-limited, like drops
                self._log.warning("kafka_events_dropped", reason="buffer_full", count=self._dropped_since_log)
                self._logged_at, self._dropped_since_log = time.monotonic(), 0

    def close(self) -> None:
        """Deliver what is buffered for up to ``_FLUSH_SECONDS``, then count the rest as dropped."""
        with self._wake:
            self._closing = True
            self._deadline = time.monotonic() + _FLUSH_SECONDS
            self._wake.notify()
        self._thread.join(_FLUSH_SECONDS + 5)

    def _run(self) -> None:
        producer: Any = None
        while (batch := self._next()) is not None:
            try:
                producer = producer or self._make()
                sent = self._send(producer, batch)
            except KafkaError as exc:
                sent = [exc] * len(batch)
            if any(r is not None for r in sent):
                self._discard(producer)  # a fresh connection after any failure
                producer = None
            self._settle(batch, sent)
        self._discard(producer)
        if self._buffer:
            self.metrics.kafka_dropped_by_reason["shutdown"].inc(len(self._buffer))
            self._log.error("kafka_events_dropped", reason="shutdown", count=len(self._buffer))

    def _next(self) -> list[_Event] | None:
        """The next events to send (oldest first), or ``None`` once closing is done."""
        with self._wake:
            while not self._buffer and not self._closing:
                self._wake.wait()
            if not self._buffer or (self._closing and time.monotonic() > self._deadline):
                return None
            return [self._buffer[i] for i in range(min(_BATCH, len(self._buffer)))]

    def _send(self, producer: Any, batch: list[_Event]) -> list[KafkaError | None]:
        """Send and wait for the acknowledgements; per event ``None`` (delivered) or the failure."""
        with kafka_errors():
            futures = [producer.send(self.topic, key=key, value=value) for key, value in batch]
            producer.flush(_FLUSH_SECONDS)
        results: list[KafkaError | None] = []
        for future in futures:
            if future.is_done and future.succeeded():
                results.append(None)
            else:
                exc = future.exception if future.is_done else None
                results.append(translate(exc) if exc is not None else translate(TimeoutError("no ack")))
        return results

    def _settle(self, batch: list[_Event], results: list[KafkaError | None]) -> None:
        """Take the batch off the buffer; put the retriable failures back at its front, in order."""
        retry = [e for e, r in zip(batch, results, strict=True) if r is not None and r.retriable]
        with self._wake:
            for _ in batch:
                self._buffer.popleft()
            self._buffer.extendleft(reversed(retry))
        delivered = sum(r is None for r in results)
        self._delivered.inc(delivered)
        failures = [r for r in results if r is not None]
        for failure in failures:
            self.metrics.kafka_failed_by_reason[failure.reason].inc()
        refused = len(failures) - len(retry)
        if refused:
            self.metrics.kafka_dropped_by_reason["kafka_record"].inc(refused)
        if failures:
            self._log.warning(
                "kafka_delivery_failed", reason=failures[0].reason, count=len(failures), retrying=len(retry)
            )
            with self._wake:  # back off, but wake at once for close()
                self._wake.wait_for(lambda: self._closing, self.settings.sink.retry_backoff_seconds)

    def _discard(self, producer: Any) -> None:
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception as exc:  # noqa: BLE001 - a producer that cannot close is abandoned either way
                self._log.info("kafka_producer_close_failed", error=type(exc).__name__)
