"""Where scoring runs: a worker process (default) or a thread, behind one async interface.

In a process, classifier CPU never holds the proxy's GIL, so it cannot stall the event loop that
relays traffic; in a thread (``scoring.processes: 0``) start-up is instant, which tests prefer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Protocol

from monitor.errors import ClassifierError
from monitor.events import Scores
from monitor.scoring.scorer import Scorer

__all__ = ["ProcessScoring", "Scoring", "ThreadScoring"]

_EXIT_SECONDS = 3.0  # how long close() lets the workers finish before killing them
_WORKER_NICENESS = 10  # below the proxy: a shared core serves traffic first

Timings = dict[str, float]


class Scoring(Protocol):
    """Scores a batch without blocking the event loop; returns scores and seconds per classifier."""

    async def score(
        self, prompts: Sequence[str], responses: Sequence[str], finish: Sequence[str | None]
    ) -> tuple[list[Scores], Timings]:
        """Judge the batch."""

    def close(self) -> None:
        """Release workers."""


def _timed(
    scorer: Scorer, prompts: Sequence[str], responses: Sequence[str], finish: Sequence[str | None]
) -> tuple[list[Scores], Timings]:
    timings: Timings = {}
    scorer.observe = timings.__setitem__  # one batch at a time per worker, so this is not shared
    return scorer.score(prompts, responses, finish), timings


class ThreadScoring:
    """Score in a worker thread of this process (``Scorer`` is thread-safe)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    async def score(
        self, prompts: Sequence[str], responses: Sequence[str], finish: Sequence[str | None]
    ) -> tuple[list[Scores], Timings]:
        """Judge the batch in a thread."""
        return await asyncio.to_thread(_timed, self.scorer, prompts, responses, finish)

    def close(self) -> None:
        """Nothing to release."""


@functools.cache
def _worker_scorer(model_dir: str, encoder: bool) -> Scorer:
    """The scorer of this worker process, loaded once (the cache is per process)."""
    return Scorer(Path(model_dir), encoder=encoder)


def _score_in_worker(
    model_dir: str,
    encoder: bool,
    prompts: Sequence[str],
    responses: Sequence[str],
    finish: Sequence[str | None],
) -> tuple[list[Scores], Timings]:
    return _timed(_worker_scorer(model_dir, encoder), prompts, responses, finish)


class ProcessScoring:
    """Score in ``processes`` worker processes that load the models once each.

    Parameters
    ----------
    model_dir
        Where the ONNX models are.
    processes
        Worker processes.
    encoder
        Whether the workers' scorers read prompts through the sentence encoder.

    """

    def __init__(self, model_dir: Path, processes: int = 1, encoder: bool = True) -> None:
        self.model_dir = model_dir
        self.processes = processes
        self.encoder = encoder
        self._call: Callable[..., tuple[list[Scores], Timings]] = functools.partial(
            _score_in_worker, str(model_dir), encoder
        )
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=context,
            initializer=_warm,
            initargs=(str(self.model_dir), self.encoder),
        )
        # The pool starts a worker per task it cannot hand to an idle one: start them all now, so
        # they load the models before the first batch instead of under it.
        for _ in range(self.processes):
            pool.submit(os.getpid)
        return pool

    async def score(
        self, prompts: Sequence[str], responses: Sequence[str], finish: Sequence[str | None]
    ) -> tuple[list[Scores], Timings]:
        """Judge the batch in a worker process."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, self._call, list(prompts), list(responses), list(finish))
        except BrokenProcessPool as exc:
            # A worker died (killed, out of memory): start fresh ones; this batch is lost and counted.
            # Only the first batch to see this pool break replaces it, never a newer pool.
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            msg = "scoring worker died; restarted it"
            raise ClassifierError(msg) from exc

    def close(self) -> None:
        """Stop the workers; one still there after a few seconds is killed, never left behind.

        ``shutdown(wait=False)`` alone can orphan a worker: one that runs at idle priority on a busy
        machine may not read its stop message before this process exits, and then lives on (found in
        CI: a worker, and its resource tracker, outliving ``serve`` by minutes).
        """
        workers = list(self._pool._processes.values())  # noqa: SLF001 - the executor keeps no public handle
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + _EXIT_SECONDS
        for worker in workers:
            worker.join(max(deadline - time.monotonic(), 0.0))
            if worker.is_alive():
                _kill(worker)


def _kill(worker: BaseProcess) -> None:
    # A killed process still has to run its exit, and at SCHED_IDLE on a busy machine it may not be
    # scheduled for seconds (found in CI): lift it to the normal policy first, at its own niceness.
    if worker.pid is not None:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(worker.pid, os.SCHED_OTHER, os.sched_param(0))
    worker.kill()
    worker.join(_EXIT_SECONDS)


def _warm(model_dir: str, encoder: bool) -> None:
    # Scoring yields to traffic: where the worker shares a core with the proxy, the proxy wins it.
    # SCHED_IDLE runs it only on otherwise idle CPU (nice 10 still took ~10% of a busy core); a
    # backlog that builds meanwhile is shed by adaptive sampling, never waited for. The models load
    # first, at nice 10 only: a one-off second of CPU that at SCHED_IDLE on a saturated machine took
    # over 30 s (CI), leaving a new or restarted worker unable to score.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(_WORKER_NICENESS)
    _worker_scorer(model_dir, encoder)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
