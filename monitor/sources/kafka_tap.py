"""Tap mode: consume inference logs (and the sidecars' scored events) from Kafka, in a consumer group.

Delivery is at least once: offsets are committed only after a batch has been scored, detected and
written. A redelivered record is recognised by its identity (``request_id``, else the digest of its
value; :mod:`monitor.sources.records`) and counted once.

**Detector state across the group.** Records are keyed by model (the scored-event sink does this),
so each model lives in one partition and the consumer that owns the partition owns the model's
streams. After each batch the tap writes one checkpoint per partition it touched to ``state_dir``,
a folder every consumer of the group shares: the partition's next offset, the ids it has seen
recently, and the detector state of the models in it, in one file, written atomically. On a
rebalance the old owner checkpoints and forgets what it gives up; the new owner loads the checkpoint
and seeks to its offset. Detector state and offset always move together, so a consumer killed
between a batch and its checkpoint costs only the replay of that batch, on the old state: nothing is
lost or counted twice. Limits: a model whose records are spread over partitions is watched by several
consumers at once (a warning names it); without ``state_dir`` a rebalance restarts the moved models'
detectors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from detectors import from_state
from monitor.brokers import client_options, kafka_errors
from monitor.errors import CaptureError, KafkaError
from monitor.export.metrics import Metrics
from monitor.failopen import FailOpen
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from monitor.signals import StreamKey
from monitor.sources.records import Record, parse_record

__all__ = ["TapSource"]

_POLL_MS = 500


class _Partition:
    """What the tap holds per assigned partition: seen ids (bounded) and the models it carries."""

    def __init__(self, dedup_size: int) -> None:
        self.dedup_size = dedup_size
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.models: set[str] = set()
        self.next_offset: int | None = None

    def remember(self, identity: str) -> None:
        self.seen[identity] = None
        while len(self.seen) > self.dedup_size:
            self.seen.popitem(last=False)


class TapSource:
    """A Kafka consumer-group member that hands scored and unscored Samples to the pipeline.

    Parameters
    ----------
    settings
        The monitor's settings (the ``kafka`` section, and ``scoring.batch_size`` per poll).
    pipeline
        Processes each batch; its bank holds the detectors of the assigned partitions' models.
    metrics
        Where records, lag and samples are counted.

    """

    name = "kafka"

    def __init__(self, settings: Settings, pipeline: Pipeline, metrics: Metrics) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.metrics = metrics
        self.tap = settings.kafka.tap
        self.partitions: dict[TopicPartition, _Partition] = {}
        self.joined = threading.Event()
        self._consumer: Any = None
        self._dead_letters: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._guard = FailOpen("pipeline", metrics)
        self._log = structlog.get_logger("monitor.tap")

    async def start(self) -> None:
        """Start the consume loop (it connects, and keeps retrying while no broker answers)."""
        self._task = asyncio.create_task(self._run(), name="kafka-tap")

    async def stop(self) -> None:
        """Finish the batch in hand, checkpoint and commit, leave the group."""
        self._stopping = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await asyncio.to_thread(self._close)

    async def ready(self) -> bool:
        """Joined the group and assigned partitions (or told there are none)."""
        return self.joined.is_set()

    async def _run(self) -> None:
        while not self._stopping and self._consumer is None:
            try:
                self._consumer = await asyncio.to_thread(self._connect)
            except KafkaError as exc:
                self._log.warning("kafka_connect_failed", reason=exc.reason, error=str(exc))
                await asyncio.sleep(1.0)
        while not self._stopping:
            try:
                records = await asyncio.to_thread(self._poll)
            except KafkaError as exc:
                self._log.warning("kafka_poll_failed", reason=exc.reason, error=str(exc))
                await asyncio.sleep(1.0)
                continue
            if records:
                await self._batch(records)

    async def _batch(self, records: list[Any]) -> None:
        touched = {TopicPartition(r.topic, r.partition) for r in records}
        with self._guard:  # a failure here is counted and logged; the batch is read again
            try:
                await self._handle(records)
                await asyncio.to_thread(self._commit, touched)
            except Exception:
                starts = {
                    tp: min(r.offset for r in records if (r.topic, r.partition) == tp) for tp in touched
                }
                for tp, offset in starts.items():
                    if tp in self.partitions:
                        self._consumer.seek(tp, offset)
                await asyncio.sleep(1.0)
                raise

    def _connect(self) -> Any:
        k = self.settings.kafka
        session_ms = int(self.tap.session_timeout_seconds * 1000)
        options = client_options(k) | {
            "group_id": self.tap.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": self.settings.scoring.batch_size,
            "session_timeout_ms": session_ms,
            "heartbeat_interval_ms": max(session_ms // 3, 100),
        }
        if self.tap.state_dir is not None:
            self.tap.state_dir.mkdir(parents=True, exist_ok=True)
        with kafka_errors():
            consumer = KafkaConsumer(**options)
            consumer.subscribe(list(self.tap.topics), listener=_Listener(self))
            if self.tap.dead_letter_topic is not None:
                self._dead_letters = KafkaProducer(**client_options(k))
        return consumer

    def _poll(self) -> list[Any]:
        with kafka_errors():
            polled = self._consumer.poll(timeout_ms=_POLL_MS)
            self._update_lag()
        return [record for batch in polled.values() for record in batch]

    def _update_lag(self) -> None:
        for tp in list(self.partitions):
            end = self._consumer.highwater(tp)
            if end is not None:
                lag = max(end - self._consumer.position(tp), 0)
                self.metrics.kafka_lag.labels(tp.topic, str(tp.partition)).set(lag)

    async def _handle(self, records: list[Any]) -> None:
        items: list[tuple[Any, Record]] = []
        batch_ids: set[str] = set()
        for raw in records:
            parsed = self._parse(raw)
            if parsed is None:
                continue
            part = self.partitions.get(TopicPartition(raw.topic, raw.partition))
            if parsed.identity in batch_ids or (part is not None and parsed.identity in part.seen):
                self.metrics.tap_by_outcome["duplicate"].inc()
                continue
            batch_ids.add(parsed.identity)
            items.append((raw, parsed))
        if items:
            self.metrics.samples_taken.inc(len(items))
            await self._process(items)

    def _parse(self, raw: Any) -> Record | None:
        try:
            return parse_record(raw.value, raw.timestamp)
        except CaptureError as exc:
            self.metrics.tap_by_outcome["malformed"].inc()
            where = {"topic": raw.topic, "partition": raw.partition, "offset": raw.offset}
            self._log.warning("record_malformed", reason=exc.reason, error=str(exc), **where)
            return None

    async def _process(self, items: list[tuple[Any, Record]]) -> None:
        if await self.pipeline.submit([record.sample for _, record in items]):
            self._done(items)
            return
        # The batch failed: find the record that fails, one at a time, each up to max_failures times.
        for item in items:
            for _ in range(self.tap.max_failures):
                if await self.pipeline.submit([item[1].sample]):
                    self._done([item])
                    break
            else:
                await asyncio.to_thread(self._poison, item)

    def _done(self, items: list[tuple[Any, Record]]) -> None:
        for raw, record in items:
            outcome = "prescored" if record.sample.scores is not None else "scored"  # came with scores
            self.metrics.tap_by_outcome[outcome].inc()
            part = self.partitions.get(TopicPartition(raw.topic, raw.partition))
            if part is not None:
                part.remember(record.identity)
                part.models.add(record.sample.model)

    def _poison(self, item: tuple[Any, Record]) -> None:
        raw, record = item
        self.metrics.tap_by_outcome["poison"].inc()
        where = {"topic": raw.topic, "partition": raw.partition, "offset": raw.offset}
        self._log.error(
            "record_poison", failures=self.tap.max_failures, dead_letter=self.tap.dead_letter_topic, **where
        )
        part = self.partitions.get(TopicPartition(raw.topic, raw.partition))
        if part is not None:
            part.remember(record.identity)
        if self._dead_letters is not None:
            with kafka_errors():
                self._dead_letters.send(self.tap.dead_letter_topic, key=raw.key, value=raw.value)
                self._dead_letters.flush(10)

    def _commit(self, touched: set[TopicPartition]) -> None:
        """Checkpoint the touched partitions (state with offset), then commit the group's offsets."""
        for tp in touched:
            if tp in self.partitions:
                self._checkpoint(tp)
        try:
            with kafka_errors():
                self._consumer.commit()
        except KafkaError as exc:  # a rebalance in between: the checkpoints still hold the offsets
            self._log.warning("kafka_commit_failed", reason=exc.reason, error=str(exc))

    def _checkpoint(self, tp: TopicPartition) -> None:
        part, bank, folder = self.partitions[tp], self.pipeline.bank, self.tap.state_dir
        if folder is None:
            return
        detectors = (
            []
            if bank is None
            else [{"key": list(key), "state": d.state_dict()} for key, d in bank if key.model in part.models]
        )
        state = {
            "offset": self._consumer.position(tp),
            "seen": list(part.seen),
            "models": sorted(part.models),
            "detectors": detectors,
        }
        path = _state_path(folder, tp)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        temporary.replace(path)

    def assigned(self, tps: set[TopicPartition]) -> None:
        """Take over partitions: load each one's checkpoint into the bank and seek to its offset."""
        for tp in tps:
            part = self.partitions.setdefault(tp, _Partition(self.tap.dedup_size))
            state = self._load(tp)
            if state is None:
                continue
            part.seen = OrderedDict.fromkeys(state["seen"])
            part.models = set(state["models"])
            self._claim(part.models, state["detectors"])
            self._consumer.seek(tp, int(state["offset"]))
        self.joined.set()
        self._log.info("partitions_assigned", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in tps))

    def revoked(self, tps: set[TopicPartition]) -> None:
        """Give partitions up: checkpoint them, then forget their models' detectors and lag."""
        for tp in tps:
            if tp not in self.partitions:
                continue
            self._checkpoint(tp)
            part = self.partitions.pop(tp)
            self._forget(part.models)
            with contextlib.suppress(KeyError):  # no lag was reported for it yet
                self.metrics.kafka_lag.remove(tp.topic, str(tp.partition))
        self._log.info("partitions_revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in tps))

    def _load(self, tp: TopicPartition) -> dict[str, Any] | None:
        if self.tap.state_dir is None:
            return None
        path = _state_path(self.tap.state_dir, tp)
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _claim(self, models: set[str], detectors: list[dict[str, Any]]) -> None:
        bank = self.pipeline.bank
        if bank is None:
            return
        self._forget(models)
        for entry in detectors:
            bank.detectors[StreamKey(*entry["key"])] = from_state(entry["state"])

    def _forget(self, models: set[str]) -> None:
        bank = self.pipeline.bank
        if bank is None:
            return
        for key in [k for k in bank.detectors if k.model in models]:
            del bank.detectors[key]
            bank.history.pop(key, None)

    def _close(self) -> None:
        try:
            with kafka_errors():
                self._commit(set(self.partitions))
                self._consumer.close()
                if self._dead_letters is not None:
                    self._dead_letters.close(timeout=5)
        except KafkaError as exc:
            self._log.warning("kafka_close_failed", reason=exc.reason, error=str(exc))


def _state_path(folder: Path, tp: TopicPartition) -> Path:
    return folder / f"{tp.topic}-{tp.partition}.json"


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs inside ``poll`` (in the tap's worker thread, while the loop awaits it)."""

    def __init__(self, tap: TapSource) -> None:
        self.tap = tap

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.tap.revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.tap.assigned(set(assigned))
