"""Composition root: build every stage from Settings, wire them, and run the two servers."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, disable_created_metrics

from monitor.admin import build_admin_app
from monitor.canary import CanarySource
from monitor.checkpoint import restore, save, write_state
from monitor.detection import DetectorBank, bank_from_settings
from monitor.errors import ConfigError
from monitor.export.alerts import AlertmanagerSink, AlertSink, Notifier, WebhookSink
from monitor.export.metrics import DetectorCollector, Metrics
from monitor.failopen import FailOpen
from monitor.pipeline import Pipeline
from monitor.sampling import SampleQueue
from monitor.scoring.judge import judge_from_settings
from monitor.scoring.runner import ProcessScoring, Scoring, ThreadScoring
from monitor.scoring.scorer import MODEL_DIR, Scorer
from monitor.settings import Settings
from monitor.shedding import Shedder, watch_load
from monitor.sinks.base import Sink
from monitor.sinks.jsonl import JsonlSink
from monitor.sinks.kafka import KafkaSink
from monitor.sources.base import Source
from monitor.sources.inline import ProxySource
from monitor.sources.kafka_tap import TapSource
from monitor.sources.proxy import Proxy

__all__ = ["MONITOR", "Monitor", "build", "serve"]


@dataclass(slots=True)
class Monitor:
    """The wired stages of one monitor process, and its two aiohttp applications."""

    settings: Settings
    metrics: Metrics
    queue: SampleQueue
    pipeline: Pipeline
    proxy_app: web.Application
    admin_app: web.Application
    proxy: Proxy | None = None
    shedder: Shedder | None = None
    notifier: Notifier | None = None
    sinks: list[Sink] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


MONITOR = web.AppKey("monitor", Monitor)


def build(
    settings: Settings, registry: CollectorRegistry | None = None, sinks: Sequence[Sink] = ()
) -> Monitor:
    """Wire the stages. ``sinks`` are added to the JSONL sample log, when that is configured."""
    # Process-wide: `_created` series would double every counter's series and nobody graphs them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = Metrics(registry or CollectorRegistry(auto_describe=True), settings.models)
    all_sinks: list[Sink] = list(sinks)
    log = settings.sample_log
    if log.path is not None:
        all_sinks.append(JsonlSink(log.path, log.max_bytes, log.backups, settings.capture_text))
    if settings.kafka.sink.enabled:
        all_sinks.append(KafkaSink(settings.kafka, metrics, settings.capture_text))
    queue = SampleQueue(settings.sampling.queue_size, metrics)
    scorer, bank = _scoring(settings, metrics)
    judge = judge_from_settings(settings.scoring.judge, metrics) if scorer is not None else None
    pipeline = Pipeline(queue.queue, all_sinks, metrics, settings.scoring.batch_size, scorer, bank, judge)
    adaptive = settings.sampling.adaptive
    shedder = Shedder(adaptive) if adaptive.enabled and settings.mode == "proxy" else None
    if shedder is not None:
        metrics.watch_shedding(lambda: shedder.factor, lambda: shedder.priority)
    proxy_mode = settings.mode == "proxy"
    sources: list[Source] = [ProxySource(settings, queue, metrics, shedder)] if proxy_mode else []
    if settings.mode == "tap":
        sources.append(TapSource(settings, pipeline, metrics))
    if settings.canary.enabled and bank is not None:
        sources.append(CanarySource(settings, queue, metrics))  # started after the proxy, stopped first
    checks = {source.name: source.ready for source in sources}
    proxy_app = web.Application(client_max_size=settings.max_body_bytes)
    admin_app = build_admin_app(metrics.registry, checks, pipeline.started.is_set, bank)
    monitor = Monitor(
        settings,
        metrics,
        queue,
        pipeline,
        proxy_app,
        admin_app,
        shedder=shedder,
        sinks=all_sinks,
        sources=sources,
    )
    # Without a proxy (tap mode) the stages run with the admin server, the only one started.
    stages = proxy_app if settings.mode == "proxy" else admin_app
    stages[MONITOR] = monitor
    stages.cleanup_ctx.append(_run_load_watch)
    stages.cleanup_ctx.append(_run_checkpoints)
    stages.cleanup_ctx.append(_run_alerts)
    stages.cleanup_ctx.append(_run_pipeline)
    stages.cleanup_ctx.append(_run_sources)  # stopped first: no new work while the pipeline drains
    proxy_app[MONITOR] = monitor
    proxy_app.router.add_route("*", "/{tail:.*}", _handle)
    return monitor


def _scoring(settings: Settings, metrics: Metrics) -> tuple[Scoring | None, DetectorBank | None]:
    if not settings.scoring.enabled:
        return None, None
    model_dir = settings.scoring.model_dir or MODEL_DIR
    processes, encoder = settings.scoring.processes, settings.scoring.encoder
    scorer: Scoring = (
        ProcessScoring(model_dir, processes, encoder)
        if processes
        else ThreadScoring(Scorer(model_dir, encoder=encoder))
    )
    d = settings.detection
    if not d.enabled:
        return scorer, None
    bank = bank_from_settings(settings, model_dir)
    if d.checkpoint_path is not None and restore(bank, d.checkpoint_path):
        # Observation counters come back with the detectors; exclusion counters must match them.
        for reason, count in bank.excluded.items():
            metrics.excluded_by_reason[reason].inc(count)
    metrics.registry.register(DetectorCollector(bank))
    return scorer, bank


async def _run_load_watch(app: web.Application) -> AsyncIterator[None]:
    """Measure the loop's lag and, with adaptive sampling, shed copies while it or the backlog is high."""
    monitor = app[MONITOR]
    interval = monitor.settings.sampling.adaptive.interval_seconds
    work = watch_load(interval, monitor.queue.fill, monitor.metrics, monitor.shedder)
    task = asyncio.create_task(_guarded(work, FailOpen("pipeline", monitor.metrics)), name="load")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _run_checkpoints(app: web.Application) -> AsyncIterator[None]:
    """Save detector state every ``checkpoint_seconds`` and once more at shutdown (after the drain)."""
    monitor = app[MONITOR]
    bank, path = monitor.pipeline.bank, monitor.settings.detection.checkpoint_path
    if bank is None or path is None:
        yield
        return
    guard = FailOpen("checkpoint", monitor.metrics)

    async def periodically() -> None:
        while True:
            await asyncio.sleep(monitor.settings.detection.checkpoint_seconds)
            with guard:
                # Snapshot here, on the loop that mutates the bank; only the file write leaves it.
                await asyncio.to_thread(write_state, bank.state_dict(), path)

    task = asyncio.create_task(periodically(), name="checkpoints")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    with guard:
        save(bank, path)


async def _run_alerts(app: web.Application) -> AsyncIterator[None]:
    """Deliver detector alarms to Alertmanager and/or a webhook, when configured."""
    monitor = app[MONITOR]
    a, bank = monitor.settings.alerts, monitor.pipeline.bank
    if bank is None or (a.alertmanager_url is None and a.webhook_url is None):
        yield
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        sinks: list[AlertSink] = []
        if a.alertmanager_url is not None:
            sinks.append(AlertmanagerSink(a.alertmanager_url, session))
        if a.webhook_url is not None:
            sinks.append(WebhookSink(a.webhook_url, session))
        monitor.notifier = Notifier(bank, sinks, monitor.metrics, a.runbook_base, a.interval_seconds)
        task = asyncio.create_task(
            _guarded(monitor.notifier.run(), FailOpen("alerts", monitor.metrics)), name="alerts"
        )
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _guarded(work: Coroutine[Any, Any, None], guard: FailOpen) -> None:
    with guard:
        await work


async def _handle(request: web.Request) -> web.StreamResponse:
    proxy = request.app[MONITOR].proxy
    assert proxy is not None  # noqa: S101 - set by _run_proxy before the server accepts
    return await proxy.handle(request)


async def _run_sources(app: web.Application) -> AsyncIterator[None]:
    monitor = app[MONITOR]
    for source in monitor.sources:
        await source.start()
        if isinstance(source, ProxySource):
            monitor.proxy = source.proxy
    yield
    for source in reversed(monitor.sources):
        await source.stop()


async def _run_pipeline(app: web.Application) -> AsyncIterator[None]:
    monitor = app[MONITOR]
    task = asyncio.create_task(monitor.pipeline.run(), name="pipeline")
    yield
    # In-flight requests have finished by now (the runner waited for them): flush what they queued.
    await monitor.pipeline.drain(monitor.settings.shutdown_timeout_seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    closing = FailOpen("sink", monitor.metrics)
    for sink in monitor.sinks:
        with closing:  # a sink that cannot close (a full disk) must not stop the rest of the shutdown
            await asyncio.to_thread(sink.close)
    if monitor.pipeline.scorer is not None:
        monitor.pipeline.scorer.close()
    if monitor.pipeline.judge is not None:
        await monitor.pipeline.judge.close()
    monitor.metrics.drop_log.flush()


async def _start(runner: web.AppRunner, host: str, port: int, key: str) -> int:
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise ConfigError(key, port, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return int(runner.addresses[0][1])


async def serve(
    settings: Settings, stop: asyncio.Event | None = None, started: Callable[[int, int], None] | None = None
) -> None:
    """Run the proxy and admin servers until SIGTERM/SIGINT (or ``stop``), then shut down gracefully.

    ``started`` is called with the bound proxy and admin ports (useful when they were 0).
    """
    log = structlog.get_logger("monitor")
    monitor = build(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    proxy_runner = web.AppRunner(
        monitor.proxy_app,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
    admin_runner = web.AppRunner(monitor.admin_app, access_log=None)
    try:
        port = 0
        if settings.mode == "proxy":
            port = await _start(proxy_runner, settings.host, settings.port, "port")
        admin_port = await _start(admin_runner, settings.admin_host, settings.admin_port, "admin_port")
        where: dict[str, object] = {"event_loop": type(loop).__module__.split(".")[0]}  # uvloop or asyncio
        where.update(
            {"upstream": settings.upstream.url} if port else {"topics": list(settings.kafka.tap.topics)}
        )
        log.info("monitor_started", mode=settings.mode, port=port, admin_port=admin_port, **where)
        # Start-up's objects (imports, models, settings) live as long as the process: freeze them so
        # the collector stops rescanning them, a cost every request used to share.
        gc.freeze()
        if started is not None:
            started(port, admin_port)
        await stop.wait()
        log.info("monitor_stopping", shutdown_timeout_seconds=settings.shutdown_timeout_seconds)
    finally:
        await proxy_runner.cleanup()
        await admin_runner.cleanup()
    log.info("monitor_stopped", **monitor.metrics.accounting())
