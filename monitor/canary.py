"""Canary probes: a fixed, versioned suite sent to the upstream on a schedule, as one more source.

Live traffic says whether the model changed only through what users happen to send, and its
categories are guessed. Probes measure the model with prompts whose category and expected outcome
are known. Each probe goes straight to the upstream (not through the proxy, so client metrics never
count it) with the canary header naming the suite, the configured model and fixed sampling
parameters. Its answer becomes an :class:`~monitor.events.Exchange` carrying the suite's truth and
is offered to the same sample queue as proxied traffic, so it is parsed, scored, logged and detected
like any sample, but feeds the ``source="canary"`` streams only (:func:`monitor.signals.judged`).

Probes never crowd out real traffic: a round sends at most ``per_round`` items, spaced at least
``1 / rate_per_second`` apart, and no more than ``budget_per_hour`` in any sliding hour. The task
stops with the app, before the pipeline drains.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import aiohttp
import structlog
from yarl import URL

from monitor.errors import UpstreamConnectError, UpstreamTimeoutError
from monitor.events import Exchange
from monitor.export.metrics import OTHER, Metrics
from monitor.gate.suite import Item, Suite, load_suite
from monitor.limits import HourlyBudget
from monitor.sampling import SampleQueue
from monitor.settings import CHAT_ROUTE, CanarySettings, Settings

__all__ = ["CANARY_SUITE", "CanarySource", "Schedule", "expects_refusal"]

CANARY_SUITE = Path(str(resources.files("monitor") / "gate" / "suites" / "canary.jsonl"))
_REFUSE = frozenset({"refuse", "refusal", "refused"})
_COMPLY = frozenset({"comply", "answer", "complete", "help"})


def expects_refusal(item: Item) -> bool:
    """Whether a good model refuses ``item``: its ``expected`` outcome when given, else ``harmful``."""
    expected = (item.expected or "").strip().lower()
    if expected in _REFUSE:
        return True
    if expected in _COMPLY:
        return False
    return item.harmful


class Schedule:
    """Which items each round sends, and how long to wait between rounds.

    Items are visited in a shuffled order that is reshuffled after each full pass, so every item is
    probed equally often and no round order is fixed for the model to learn.

    Parameters
    ----------
    items
        The suite's items.
    per_round
        Items per round.
    interval_seconds
        Mean wait between rounds.
    jitter
        The wait is ``interval_seconds × (1 ± jitter)``, uniform, so replicas drift apart.
    rng
        Source of randomness (seed it in tests).

    Examples
    --------
    >>> s = Schedule([Item(str(i), (("user", "q"),), "privacy", True) for i in range(3)], 2, 10.0, 0.1,
    ...              random.Random(0))
    >>> sorted(i.id for i in s.next_round() + s.next_round()[:1]), 9.0 <= s.wait() <= 11.0
    (['0', '1', '2'], True)

    """

    def __init__(
        self,
        items: Sequence[Item],
        per_round: int,
        interval_seconds: float,
        jitter: float,
        rng: random.Random,
    ) -> None:
        self.items = tuple(items)
        self.per_round = per_round
        self.interval_seconds = interval_seconds
        self.jitter = jitter
        self.rng = rng
        self._order: deque[Item] = deque()

    def next_round(self) -> list[Item]:
        """The next ``per_round`` items, continuing the current pass."""
        out = []
        for _ in range(self.per_round):
            if not self._order:
                shuffled = list(self.items)
                self.rng.shuffle(shuffled)
                self._order.extend(shuffled)
            out.append(self._order.popleft())
        return out

    def wait(self) -> float:
        """Seconds until the next round."""
        return self.interval_seconds * (1.0 + self.rng.uniform(-self.jitter, self.jitter))


class CanarySource:
    """Send the suite's probes to the upstream on a schedule and offer each answer for scoring.

    Parameters
    ----------
    settings
        The monitor's settings (``canary``, ``upstream``, ``models``, the canary header).
    queue
        The sample queue proxied copies go to.
    metrics
        Counts probes sent, failed and skipped.
    rng
        Source of randomness for the order and the jitter.
    clock
        Monotonic seconds, for the rate limit and the budget.

    """

    name = "canary"

    def __init__(
        self,
        settings: Settings,
        queue: SampleQueue,
        metrics: Metrics,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        c: CanarySettings = settings.canary
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.clock = clock
        self.suite: Suite = load_suite(c.suite or CANARY_SUITE)
        self.model = c.model or settings.models[0]
        allowed = not settings.models or self.model in settings.models
        self.label = self.model if allowed else OTHER
        self.schedule = Schedule(
            self.suite.items, c.per_round, c.interval_seconds, c.jitter, rng or random.Random()
        )
        self.budget = HourlyBudget(c.budget_per_hour)
        self.url = str(URL(settings.upstream.url)).rstrip("/") + CHAT_ROUTE
        self._spacing = 1.0 / c.rate_per_second
        self._next_at = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger("monitor.canary")

    async def start(self, scheduled: bool = True) -> None:
        """Open a session of its own and start the probe loop (``scheduled=False``: rounds on demand)."""
        timeout = aiohttp.ClientTimeout(total=self.settings.canary.timeout_seconds)
        self._session = aiohttp.ClientSession(timeout=timeout)
        if scheduled:
            self._task = asyncio.create_task(self._loop(), name="canary")
        self._log.info(
            "canary_started", suite=self.suite.label, model=self.model, items=len(self.suite.items)
        )

    async def stop(self) -> None:
        """Cancel the loop (a probe in flight is abandoned) and close the session."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def ready(self) -> bool:
        """Always ready: probes are a check of the model, never a reason to refuse traffic."""
        return True

    async def _loop(self) -> None:
        while True:
            await self.run_round()
            await asyncio.sleep(self.schedule.wait())

    async def run_round(self) -> int:
        """Send one round; returns how many probes got an answer."""
        answered = 0
        for item in self.schedule.next_round():
            await self._pace()
            if not self.budget.take(self.clock()):
                self.metrics.canary_skipped.inc()
                continue
            answered += await self.probe(item)
        return answered

    async def _pace(self) -> None:
        """Keep probes at least ``1 / rate_per_second`` apart."""
        now = self.clock()
        if now < self._next_at:
            await asyncio.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self._spacing

    async def probe(self, item: Item) -> bool:
        """Send one item; offer its answer to the queue. ``False`` (counted) when there is none."""
        assert self._session is not None  # noqa: S101 - started before the loop runs
        c, request_id = self.settings.canary, uuid.uuid4().hex
        messages = [{"role": role, "content": text} for role, text in item.messages]
        payload = {"model": self.model, "messages": messages, "temperature": c.temperature,
                   "max_tokens": c.max_tokens, "seed": c.seed, "stream": False}  # fmt: skip
        body = json.dumps(payload).encode()
        headers = {self.settings.sampling.canary_header: self.suite.label, "X-Request-ID": request_id,
                   "Content-Type": "application/json"}  # fmt: skip
        started_at, started = time.time(), time.perf_counter()
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                raw, status = await response.read(), response.status
                content_type = response.headers.get("Content-Type", "")
        except TimeoutError:
            return self._failed(UpstreamTimeoutError.reason, item)
        except aiohttp.ClientError:
            return self._failed(UpstreamConnectError.reason, item)
        if not 200 <= status < 300:  # noqa: PLR2004
            return self._failed("error_response", item, status)
        duration = time.perf_counter() - started
        exchange = Exchange(request_id, "chat_completions", self.label, body, status, content_type, (raw,),
                            streamed=False, started_at=started_at, duration_seconds=duration,
                            canary=self.suite.label, canary_category=item.category,
                            canary_harmful=expects_refusal(item))  # fmt: skip
        self.queue.offer(exchange)  # a full queue drops and counts it, like any sampled copy
        self.metrics.canary_sent.inc()
        return True

    def _failed(self, reason: str, item: Item, status: int | None = None) -> bool:
        self.metrics.canary_failed_by_reason[reason].inc()
        self._log.warning("canary_probe_failed", reason=reason, item=item.id, status=status)
        return False
