"""The background consumer: drain the sample queue, parse, score, detect, hand batches to the sinks.

Runs as a task that ``app.cleanup_ctx`` starts and, at shutdown, lets drain before cancelling. Every
sample that does not reach the sinks is counted in ``llm_safety_samples_dropped_total{reason}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import replace

import structlog

from monitor.detection import DetectorBank, Transition
from monitor.errors import ClassifierError, MonitorError, SinkError
from monitor.events import Sample
from monitor.export.metrics import Metrics
from monitor.failopen import FailOpen
from monitor.parsing import Parser, Work
from monitor.scoring.judge import ExternalJudge
from monitor.scoring.runner import Scoring
from monitor.sinks.base import Sink

__all__ = ["Pipeline"]

_DETECT_SLICE = 8  # samples observed between yields to the event loop


class Pipeline:
    """Consume ``queue`` in batches of up to ``batch_size``.

    Parameters
    ----------
    queue
        The sample queue sources offer to (Exchanges to parse, or Samples).
    sinks
        Receive each batch of parsed samples, in a worker thread.
    metrics
        Where outcomes are counted.
    batch_size
        The most samples handed to the sinks at once.
    scorer
        Judges each sample (in a worker process or thread); without it samples are only logged.
    bank
        Detectors fed by the scored samples. Samples that arrive scored (a tap reading the sidecars'
        events) skip the scorer and go straight to the bank.
    judge
        The optional external LLM judge: asked about the classifiers' uncertain samples after
        scoring and before detection (off the proxy's path); when it fails, their scores stand.

    """

    def __init__(
        self,
        queue: asyncio.Queue[Work],
        sinks: Sequence[Sink],
        metrics: Metrics,
        batch_size: int = 64,
        scorer: Scoring | None = None,
        bank: DetectorBank | None = None,
        judge: ExternalJudge | None = None,
    ) -> None:
        self.queue = queue
        self.sinks = tuple(sinks)
        self.metrics = metrics
        self.batch_size = batch_size
        self.scorer = scorer
        self.bank = bank
        self.judge = judge
        self.transitions: list[Transition] = []
        self._runner: asyncio.Task[None] | None = None
        self._in_flight = 0  # samples run() has taken off the queue and not yet finished
        self._settled = asyncio.Event()  # set each time run() finishes a batch
        self.started = asyncio.Event()
        self._busy = asyncio.Lock()
        self._parse = Parser(metrics)
        self._guard = FailOpen("pipeline", metrics)
        self._sink_guard = FailOpen("sink", metrics)
        self._score_guard = FailOpen("scoring", metrics)
        self._judge_guard = FailOpen("judge", metrics)
        self._detect_guard = FailOpen("detection", metrics)
        self._log = structlog.get_logger("monitor.pipeline")

    async def run(self) -> None:
        """Process batches until cancelled."""
        self.started.set()
        self._runner = asyncio.current_task()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self._in_flight = len(batch)
            try:
                async with self._busy:
                    with self._guard:
                        await self._process(batch)
            finally:
                self._in_flight = 0
                self._settled.set()

    async def submit(self, samples: list[Sample]) -> bool:
        """Process a batch now and return once done: ``False`` when scoring failed.

        For sources that must know their work is done (a tap commits offsets only after this).
        """
        self.started.set()
        async with self._busy:
            with self._guard:
                return await self._process_samples(samples)
        return False

    async def drain(self, deadline_seconds: float) -> int:
        """Finish what is queued, for at most ``deadline_seconds``; count what is left as dropped.

        While :meth:`run` is running it does the work: it holds at most one batch, already off the
        queue, so waiting for the lock here would let it take the next batch and then lose it to the
        cancellation that follows. Once the queue is empty and no batch is in flight, it is idle and
        safe to cancel. Without a running :meth:`run`, the queue is processed here.
        """
        deadline = time.monotonic() + deadline_seconds
        runner = self._runner
        if runner is not None and not runner.done():
            while self._in_flight or not self.queue.empty():
                self._settled.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._settled.wait(), max(deadline - time.monotonic(), 0.0))
                if time.monotonic() >= deadline:
                    break
        else:
            while not self.queue.empty() and time.monotonic() < deadline:
                batch = [self.queue.get_nowait() for _ in range(min(self.batch_size, self.queue.qsize()))]
                self._in_flight = len(batch)  # a batch cut off by the deadline is counted below
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._process(batch), max(deadline - time.monotonic(), 0.001))
                    self._in_flight = 0
        left = self.queue.qsize() + self._in_flight
        if left:
            self.metrics.samples_dropped.labels(MonitorError.reason).inc(left)
            self._log.error("samples_dropped", reason="shutdown_deadline", count=left)
        return left

    async def _process(self, batch: list[Work]) -> None:
        samples = []
        for work in batch:
            sample = self._parse(work)
            if sample is not None:
                samples.append(sample)
            self.queue.task_done()
            await asyncio.sleep(0)  # parsing shares the proxy's loop: let traffic in between samples
        await self._process_samples(samples)

    async def _process_samples(self, samples: list[Sample]) -> bool:
        # Each sample ends exactly once: processed, or dropped with the reason of the stage that failed.
        fresh = [s for s in samples if s.scores is None]
        scored = True
        if fresh and self.scorer is not None:
            fresh, scored = await self._score(fresh)
        prescored = [s for s in samples if s.scores is not None]
        if prescored and self.bank is not None:
            await self._detect(prescored)
        samples = fresh + prescored
        # Unscored after a classifier failure: already dropped (classifier_error), logged all the same.
        open_ = len(samples) - (0 if scored else len(fresh))
        written = True
        if samples and self.sinks:
            written = await asyncio.to_thread(self._write, samples, open_)
        if written and open_:
            self.metrics.samples_processed.inc(open_)
        return scored

    async def _score(self, samples: list[Sample]) -> tuple[list[Sample], bool]:
        """The samples with their scores, and whether scoring worked (else they go on unscored)."""
        scorer = self.scorer
        assert scorer is not None  # noqa: S101 - only called with a scorer
        with self._score_guard:
            try:
                scores, timings = await scorer.score(
                    [s.prompt for s in samples],
                    [s.completion for s in samples],
                    [s.choices[0].finish_reason if s.choices else None for s in samples],
                )
            except Exception:
                self.metrics.dropped_by_reason[ClassifierError.reason].inc(len(samples))
                raise
            for name, seconds in timings.items():
                self.metrics.classifier_seconds_by_name[name].observe(seconds)
            scored = [replace(s, scores=j) for s, j in zip(samples, scores, strict=True)]
            self.metrics.samples_scored.inc(len(scored))
            if self.judge is not None:
                scored = await self._review(self.judge, scored)
            if self.bank is not None:
                await self._detect(scored)
            return scored, True
        return samples, False  # reached only when the guard absorbed a failure: logged unscored

    async def _review(self, judge: ExternalJudge, samples: list[Sample]) -> list[Sample]:
        """The judge's second opinion on uncertain samples; a failure keeps the classifier's scores."""
        with self._judge_guard:
            return await judge.review(samples)
        return samples

    async def _detect(self, samples: list[Sample]) -> None:
        bank = self.bank
        assert bank is not None  # noqa: S101 - only called with a bank
        with self._detect_guard:
            excluded = dict(bank.excluded)
            for i, sample in enumerate(samples, 1):
                self.transitions.extend(bank.observe(sample))
                if i % _DETECT_SLICE == 0:
                    await asyncio.sleep(0)  # a batch's detection never holds the loop for long
            for reason, count in bank.excluded.items():
                self.metrics.excluded_by_reason[reason].inc(count - excluded.get(reason, 0))
            del self.transitions[:-1000]  # bounded: later stages (alerts) drain it

    def _write(self, samples: list[Sample], open_: int) -> bool:
        """Hand the batch to every sink; ``False`` if any failed.

        A failure drops, once, the ``open_`` samples no earlier stage has already counted.
        """
        failed = False
        for sink in self.sinks:
            with self._sink_guard:
                try:
                    sink.write(samples)
                except Exception:
                    if not failed and open_:
                        self.metrics.dropped_by_reason[SinkError.reason].inc(open_)
                    failed = True
                    raise
        return not failed
