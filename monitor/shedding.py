"""Adaptive sampling: when the proxy or the scoring backlog falls behind, shed copies, never traffic.

A task reads two loads every ``interval_seconds``: the event loop's lag (how late a timer fires)
and the sample queue's fill. :class:`Shedder` turns them into a ``factor`` on every sample rate,
which :class:`~monitor.sampling.Sampler` applies on the hot path:

1. overloaded (lag past ``lag_seconds`` or fill past ``queue_fill``): the factor halves each tick,
   to zero below 1/64, so ordinary traffic is shed first and uniformly;
2. still overloaded at zero: canaries and forced samples (``X-Safety-Monitor-Sample: 1``) are shed
   too (``priority``). They go last because they are few and carry known truth. Harmful-category
   traffic cannot be favoured here: its category is a classifier's output, unknown on the hot path;
3. calm (both below half their thresholds): priority samples come back first, then the factor
   climbs by ``interval / recover_seconds`` a tick. Between calm and overloaded it holds.

**Why detector estimates stay unbiased without reweighting.** Whether a copy is shed depends only
on the load readings and a draw independent of the exchange (the sampler's uniform draw, or the
request id's hash), never on the prompt, the response or their scores. The kept samples of a
stream are therefore a random subsample of the ones that would have been taken, and a rate within
a stream (refusals over harmful prompts, say) has the same expectation either way: shedding only
widens the confidence intervals and slows detection. It is unbiased over the *exchanges sampled*,
so traffic whose behaviour differs at peak load is under-represented while load is shed; the shed
share is exported (``llm_safety_sample_rate_factor_ratio``) for anyone who needs to weigh by time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from monitor.export.metrics import Metrics
from monitor.settings import AdaptiveSettings

__all__ = ["MIN_FACTOR", "Shedder", "watch_load"]

MIN_FACTOR = 1 / 64  # below this the factor snaps to zero, so shedding reaches "none" in 7 ticks


class Shedder:
    """The sample-rate factor and whether priority samples are shed; fed one reading per tick.

    Parameters
    ----------
    settings
        Thresholds and the recovery time; ``factor`` and ``priority`` are plain attributes because
        the sampler reads them per request.

    """

    def __init__(self, settings: AdaptiveSettings) -> None:
        self.settings = settings
        self.factor = 1.0
        self.priority = False  # True while canaries and forced samples are shed too
        self._step = settings.interval_seconds / settings.recover_seconds
        self._log = structlog.get_logger("monitor.shedding")

    def update(self, lag_seconds: float, queue_fill: float) -> None:
        """Take one reading of the loop lag and the queue's fill (0..1)."""
        s = self.settings
        before = (self.factor, self.priority)
        if lag_seconds > s.lag_seconds or queue_fill > s.queue_fill:
            self._shed_more()
        elif lag_seconds <= s.lag_seconds / 2 and queue_fill <= s.queue_fill / 2:
            self._shed_less()
        # Logged when shedding starts, ends or reaches priority samples: a line per several seconds
        # at most, since climbing back from any shedding to 1 takes recover_seconds / 2 or more.
        started_or_ended = (before[0] == 1.0) != (self.factor == 1.0)
        if started_or_ended or before[1] != self.priority:
            self._log.info(
                "sampling_shed",
                factor=self.factor,
                priority_shed=self.priority,
                lag_seconds=lag_seconds,
                queue_fill=queue_fill,
            )

    def _shed_more(self) -> None:
        if self.factor > 0.0:
            half = self.factor / 2
            self.factor = half if half >= MIN_FACTOR else 0.0
        else:
            self.priority = True

    def _shed_less(self) -> None:
        if self.priority:
            self.priority = False
        else:
            self.factor = min(1.0, self.factor + self._step)


async def watch_load(
    interval_seconds: float,
    queue_fill: Callable[[], float],
    metrics: Metrics,
    shedder: Shedder | None,
) -> None:
    """Measure the loop's lag every ``interval_seconds`` and feed it (and the fill) to ``shedder``.

    The lag is how much later than asked a sleep returns: the time other callbacks held the loop.
    """
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(interval_seconds)
        lag = max(0.0, loop.time() - asked - interval_seconds)
        metrics.loop_lag.set(lag)
        if shedder is not None:
            shedder.update(lag, queue_fill())
