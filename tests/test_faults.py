"""Fault injection: one table, one row per fault; clients see only the upstream, every sample is accounted.

Each row names a fault, the traffic sent while it lasts, and what the client must see. For every
row: the client gets the upstream's own behaviour (the same bytes, a cut stream where the upstream
cut it, or the proxy's 502/504 translation of an upstream that cannot answer); every sampled
exchange ends up processed or dropped with a reason (taken = processed + dropped, from the
metrics); and once the fault ends a normal request is served and processed again, without a
restart. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from services import free_port, wait_ready, webhook_receiver

from monitor.errors import SinkError
from monitor.export.metrics import DROP_REASONS
from monitor.fakes.upstream import FakeUpstream
from monitor.scoring.runner import ProcessScoring
from monitor.scoring.scorer import MODEL_DIR
from monitor.sinks.jsonl import JsonlSink
from monitor.sinks.memory import BlockingSink

CHAT = "/v1/chat/completions"
GOOD = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
HOLD_STREAM = {"model": "hold", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
HUGE = b'{"id": "x", "choices": [{"index": 0, "message": {"content": "' + b"a" * (2 << 20) + b'"}}]}'
GARBAGE = b"\x00\xff<html>definitely not json"
WAIT = 15.0  # the longest any condition is waited for
SHUTDOWN = 5.0  # serve's shutdown_timeout_seconds in the SIGTERM test


class FaultyUpstream:
    """The fake model server, with a switch that makes the completion route misbehave."""

    def __init__(self) -> None:
        self.fake = FakeUpstream()
        self.fault: str | None = None

    def app(self) -> web.Application:
        app = self.fake.app()
        app.middlewares.append(self._middleware)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if self.fault is None or request.path != CHAT:
            return await handler(request)
        await request.read()
        return await getattr(self, "_" + self.fault)(request)

    async def _hang(self, _: web.Request) -> web.StreamResponse:
        await asyncio.sleep(WAIT * 2)  # cancelled when the proxy gives up and closes the connection
        return web.Response(text="too late")

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "Half"}}]}\n\n')
        await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()
        return response

    async def _garbage(self, _: web.Request) -> web.StreamResponse:
        return web.Response(body=GARBAGE, content_type="application/json")

    async def _huge(self, _: web.Request) -> web.StreamResponse:
        return web.Response(body=HUGE, content_type="application/json")


@dataclass
class Seen:
    """What one client saw."""

    status: int | None
    body: bytes = b""
    cut: bool = False
    gone: bool = False  # the client itself gave up


@dataclass
class Row:
    """One fault: its traffic, and what every client must see."""

    name: str
    fault: str | None = None
    payload: dict[str, Any] = field(default_factory=lambda: GOOD)
    status: int | None = 200
    cut: bool = False
    same_as_direct: bool = False  # byte for byte what the upstream itself answers
    client_timeout: float | None = None  # the client gives up after this long
    client_reads_one_chunk: bool = False  # the client leaves after the first chunk
    refused: bool = False  # nothing listens on the upstream port until the fault ends
    overrides: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row("upstream_refuses", refused=True, status=502, overrides={"upstream.connect_timeout_seconds": 2}),
    Row("upstream_hangs", fault="hang", status=504, overrides={"upstream.read_timeout_seconds": 0.3}),
    Row(
        "upstream_hangs_mid_stream",
        payload=HOLD_STREAM,
        cut=True,
        overrides={"upstream.read_timeout_seconds": 0.3},
    ),
    Row("upstream_resets_mid_stream", fault="reset", cut=True),
    Row("upstream_answers_garbage", fault="garbage", same_as_direct=True),
    Row(
        "upstream_answers_oversized",
        fault="huge",
        same_as_direct=True,
        overrides={"sampling.capture_max_bytes": 65536},
    ),
    Row("client_disconnects_mid_stream", payload=HOLD_STREAM, client_reads_one_chunk=True, status=None),
    Row("client_disconnects_before_headers", fault="hang", client_timeout=0.3, status=None),
]


async def ask(url: str, row: Row) -> Seen:
    """Send the row's request as a client would, and record what came back."""
    timeout = aiohttp.ClientTimeout(total=row.client_timeout or WAIT)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            async with session.post(url + CHAT, json=row.payload) as response:
                if row.client_reads_one_chunk:
                    return Seen(response.status, await response.content.readany(), gone=True)
                try:
                    return Seen(response.status, await response.read())
                except aiohttp.ClientPayloadError:
                    return Seen(response.status, cut=True)
        except TimeoutError:
            return Seen(None, gone=True)


def taken_and_ended(running: Any) -> tuple[float, float]:
    taken = running.value("llm_safety_samples_taken_total")
    processed = running.value("llm_safety_samples_processed_total")
    dropped = sum(running.value("llm_safety_samples_dropped_total", reason=r) for r in DROP_REASONS)
    return taken, processed + dropped


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"not within {WAIT} s: {what}")


async def accounted(running: Any, at_least: int) -> None:
    """Every sampled exchange ended up processed or dropped with a reason."""

    def settled() -> bool:
        taken, ended = taken_and_ended(running)
        return taken >= at_least and taken == ended and running.monitor.queue.queue.empty()

    await eventually(settled, f"taken = processed + dropped, with taken >= {at_least}")


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FaultyUpstream, Callable[[int], Awaitable[str]]]]:
    """The faulty upstream, and a function that serves it on a given port."""
    faulty = FaultyUpstream()
    runners: list[web.AppRunner] = []

    async def serve(port: int) -> str:
        runner = web.AppRunner(faulty.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield faulty, serve
    faulty.fake.release()
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_fault(row: Row, upstream, start_monitor):
    """Under the fault, clients see only the upstream; every sample is accounted; then it recovers."""
    faulty, serve = upstream
    port = free_port()
    url = f"http://127.0.0.1:{port}" if row.refused else await serve(port)
    running = await start_monitor(url, **row.overrides)
    faulty.fault = row.fault
    direct = await ask(url, row) if row.same_as_direct else None
    seen = await asyncio.gather(*(ask(running.url, row) for _ in range(3)))
    for one in seen:
        assert one.status == row.status or one.gone, one
        assert one.cut == row.cut, one
        if direct is not None:
            assert one.body == direct.body  # the upstream's bytes, whatever they are
    faulty.fake.release()  # held streams end now that their clients have been served
    await accounted(running, at_least=3)
    capture_failures = running.value(
        "llm_safety_internal_errors_total", stage="capture", reason="internal_error"
    )
    assert capture_failures == 0

    # The fault ends: the same process serves and processes a normal request.
    faulty.fault = None
    if row.refused:
        await serve(port)
    before = running.value("llm_safety_samples_processed_total")
    recovered = await ask(running.url, Row("normal"))
    assert recovered.status == 200
    assert recovered.body.startswith(b"{")
    await eventually(lambda: running.value("llm_safety_samples_processed_total") > before, "processed again")
    await accounted(running, at_least=4)


async def full_disk_monitor(upstream, start_monitor) -> tuple[Any, JsonlSink]:
    """A monitor whose sample log is on a full disk (/dev/full), after three requests."""
    _, serve = upstream
    running = await start_monitor(await serve(free_port()), **{"sample_log.path": "/dev/full"})
    for _ in range(3):
        seen = await ask(running.url, Row("normal"))
        assert seen.status == 200
        assert seen.body.startswith(b"{")
    await eventually(
        lambda: running.value("llm_safety_samples_dropped_total", reason="sink_error") >= 3, "sink errors"
    )
    return running, next(s for s in running.monitor.sinks if isinstance(s, JsonlSink))


def close_quietly(jsonl: JsonlSink) -> None:
    """Close the failing log here, so the fixture's shutdown is not the thing under test."""
    with contextlib.suppress(SinkError):  # see test_sink_close_on_a_full_disk_raises_our_error
        jsonl.close()


async def test_sink_disk_full_never_touches_traffic(upstream, start_monitor):
    """With the sample log failing, every request is still served and the failure is counted."""
    running, jsonl = await full_disk_monitor(upstream, start_monitor)
    close_quietly(jsonl)
    assert running.value("llm_safety_internal_errors_total", stage="sink", reason="sink_error") >= 1
    assert len(running.sink.samples) == 3  # the other sink still got every sample


async def test_sink_disk_full_counts_each_sample_once(upstream, start_monitor):
    """With the sample log failing, taken = processed + dropped still holds."""
    running, jsonl = await full_disk_monitor(upstream, start_monitor)
    close_quietly(jsonl)
    await eventually(lambda: taken_and_ended(running)[1] >= 3, "every sample ended somewhere")
    await asyncio.sleep(0.2)  # let the batch in flight finish counting
    taken, ended = taken_and_ended(running)
    assert taken == ended


async def test_sink_close_on_a_full_disk_raises_our_error(upstream, start_monitor):
    """Closing a sample log whose disk is full raises SinkError, which shutdown absorbs and counts."""
    _, jsonl = await full_disk_monitor(upstream, start_monitor)
    with pytest.raises(SinkError):
        jsonl.close()


async def test_checkpoint_unwritable_then_writable(upstream, start_monitor, tmp_path: Path):
    """An unwritable checkpoint is counted and absorbed; once writable again, checkpoints resume."""
    _, serve = upstream
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "detectors.json"
    overrides = {"detection.checkpoint_path": str(path), "detection.checkpoint_seconds": 0.1}
    running = await start_monitor(await serve(free_port()), **overrides)
    shutil.rmtree(folder)
    folder.write_text("a file where the checkpoint's folder should be")
    failures = {"stage": "checkpoint", "reason": "internal_error"}
    await eventually(lambda: running.value("llm_safety_internal_errors_total", **failures) >= 1, "failed")
    for _ in range(3):
        assert (await ask(running.url, Row("normal"))).status == 200
    await accounted(running, at_least=3)
    folder.unlink()
    folder.mkdir()
    await eventually(path.exists, "a checkpoint written after the fault ended")
    assert (await ask(running.url, Row("normal"))).status == 200
    await accounted(running, at_least=4)


async def test_alert_receiver_down_then_back(upstream, start_monitor):
    """A dead alert receiver never touches traffic or accounting; it may come back at any time."""
    _, serve = upstream
    hook_port = free_port()
    overrides = {"alerts.webhook_url": f"http://127.0.0.1:{hook_port}/hook", "alerts.interval_seconds": 0.1}
    running = await start_monitor(await serve(free_port()), **overrides)
    for _ in range(3):
        assert (await ask(running.url, Row("normal"))).status == 200
    await accounted(running, at_least=3)
    runner, _, _ = await webhook_receiver(hook_port)
    try:
        assert (await ask(running.url, Row("normal"))).status == 200
        await accounted(running, at_least=4)
        await asyncio.sleep(0.3)  # a few notifier intervals against the live receiver
        assert running.value("llm_safety_internal_errors_total", stage="alerts", reason="internal_error") == 0
    finally:
        await runner.cleanup()


async def test_scoring_worker_killed(upstream, start_monitor):
    """SIGKILL of the scoring worker: traffic is untouched, the lost batch is counted, a new one scores."""
    _, serve = upstream
    running = await start_monitor(await serve(free_port()), **{"scoring.processes": 1})
    assert (await ask(running.url, Row("normal"))).status == 200
    await accounted(running, at_least=1)
    pool = running.monitor.pipeline.scorer._pool
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    seen = await asyncio.gather(*(ask(running.url, Row("normal")) for _ in range(3)))
    assert [one.status for one in seen] == [200, 200, 200]
    await accounted(running, at_least=4)
    before = running.value("llm_safety_samples_scored_total")
    await eventually(lambda: running.monitor.pipeline.scorer._pool is not pool or before >= 4, "replaced")
    assert (await ask(running.url, Row("normal"))).status == 200
    await eventually(lambda: running.value("llm_safety_samples_scored_total") > before, "scored again")
    await accounted(running, at_least=5)


async def test_closing_scoring_leaves_no_worker_behind():
    """close() ends every worker process, even one that would not read its stop message in time."""
    scoring = ProcessScoring(MODEL_DIR, processes=1)
    await scoring.score(["hello"], ["hi there"], [None])
    [worker] = scoring._pool._processes.values()
    os.kill(worker.pid, signal.SIGSTOP)  # a worker that cannot run, as one starved of CPU
    await asyncio.to_thread(scoring.close)
    assert not worker.is_alive()


async def test_sigterm_under_load_loses_nothing(upstream, tmp_path: Path):
    """SIGTERM while clients keep sending: no client sees an error of ours, and every sample is accounted."""
    _, serve = upstream
    url = await serve(free_port())
    port, admin = free_port(), free_port()
    # Shutdown may take its whole budget: the scoring worker runs at SCHED_IDLE, so on a busy CI
    # machine it scores almost nothing and the drain waits out its deadline (then counts the rest).
    config = tmp_path / "settings.yaml"
    config.write_text(f"shutdown_timeout_seconds: {SHUTDOWN}\n", encoding="utf-8")
    command = [sys.executable, "-m", "monitor", "serve", "--upstream", url, "--port", str(port),
               "--admin-port", str(admin), "--sample-log", str(tmp_path / "samples.jsonl"),
               "--config", str(config)]  # fmt: skip
    # A file, not a pipe: reading a pipe to EOF would wait for anything that inherited it.
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(*command, stderr=log)
    try:
        await wait_ready(f"http://127.0.0.1:{admin}/readyz")
        stop, terminating = asyncio.Event(), asyncio.Event()
        statuses: list[int | str] = []

        async def client() -> None:
            while not stop.is_set():
                try:
                    statuses.append((await ask(f"http://127.0.0.1:{port}", Row("normal"))).status or "gone")
                except (aiohttp.ClientConnectorError, aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                    # The listener closed, or the connection was still in its backlog: shutdown
                    # refuses new requests; it never answers one with an error of ours.
                    assert terminating.is_set()
                    statuses.append("refused")
                    return

        clients = [asyncio.create_task(client()) for _ in range(8)]
        await eventually(lambda: len(statuses) >= 50, "load under way")
        terminating.set()
        process.send_signal(signal.SIGTERM)
        # The proxy's grace period, then the drain's, then closing the worker.
        assert await asyncio.wait_for(process.wait(), WAIT + 2 * SHUTDOWN) == 0
        stop.set()
        await asyncio.gather(*clients)
        log.close()
        stderr = (tmp_path / "serve.log").read_text(encoding="utf-8")
    finally:
        log.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert {s for s in statuses if s != 200} <= {"refused"}, statuses
    [stopped] = [json.loads(line) for line in stderr.splitlines() if '"monitor_stopped"' in line]
    taken, processed, dropped = (
        stopped[k] for k in ("samples_taken", "samples_processed", "samples_dropped")
    )
    assert taken == processed + dropped
    written = tmp_path / "samples.jsonl"  # not created when the starved worker scored nothing
    assert processed == (len(written.read_text().splitlines()) if written.exists() else 0)
    assert taken >= statuses.count(200)


async def test_memory_held_by_copies_is_bounded(upstream, start_monitor):
    """Behind a stuck sink, copies never exceed the queue plus one batch, each within the capture limit."""
    _, serve = upstream
    limits = {"sampling.queue_size": 8, "scoring.batch_size": 4, "sampling.capture_max_bytes": 65536}
    running = await start_monitor(await serve(free_port()), **limits)
    gate = threading.Event()
    running.monitor.pipeline.sinks = (BlockingSink(gate),)
    big = {"model": "m", "messages": [{"role": "user", "content": "x" * 40_000}]}
    held: list[tuple[int, int]] = []
    try:
        for _ in range(6):
            seen = await asyncio.gather(*(ask(running.url, Row("big", payload=big)) for _ in range(8)))
            assert [one.status for one in seen] == [200] * 8
            queued = list(running.monitor.queue.queue._queue)
            copies = len(queued) + running.monitor.pipeline._in_flight
            held.append((copies, max((len(getattr(w, "request_body", b"")) for w in queued), default=0)))
    finally:
        gate.set()
    assert max(copies for copies, _ in held) <= 8 + 4
    assert max(size for _, size in held) <= 65536
    assert running.value("llm_safety_samples_dropped_total", reason="queue_full") >= 48 - 12
    await accounted(running, at_least=48)
