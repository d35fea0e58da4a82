"""The optional external LLM judge: a second opinion on the pairs the classifiers are unsure of.

``scoring.judge.url`` names an OpenAI-compatible server (vLLM, TGI), e.g. a guard model the team
already serves; it is asked with ``POST {url}/v1/chat/completions``. The pipeline calls
:meth:`ExternalJudge.review` after the classifiers and before the detectors, so the judge is never
on the proxy's path. Only samples whose refusal probability lies inside ``scoring.judge.band`` and
whose output is coherent are sent. A verdict replaces ``refusal`` and ``refusal_prob``
(:func:`~monitor.scoring.judge_formats.apply_verdict`); every other outcome leaves the classifier's
judgement in place and is counted in ``llm_safety_judge_requests_total{outcome}``:

* ``cached``: the same (prompt, response) was judged before (an LRU keyed by a BLAKE2b digest);
* ``over_budget``, ``rate_limited``: the hourly budget is spent, or the token bucket is empty;
  such samples are skipped, never waited for;
* ``judge_timeout``, ``judge_error``, ``judge_unparsable``: the call failed;
* ``abstained``: the answer says nothing about refusal (Llama Guard's ``safe`` on a benign prompt).

A batch's calls run concurrently (at most ``concurrency`` at once) and the whole batch waits at most
``timeout_seconds``. The judge receives the raw prompt and response: it is an explicit, configured
egress. Logs carry counts only, never text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import structlog

from monitor.errors import JudgeError, JudgeReplyError, JudgeTimeoutError
from monitor.events import Sample, Scores
from monitor.export.metrics import Metrics
from monitor.limits import HourlyBudget, TokenBucket
from monitor.scoring.judge_formats import apply_verdict, messages, parse_reply, refused
from monitor.settings import JudgeSettings

__all__ = ["ExternalJudge", "VerdictCache", "digest", "judge_from_settings"]

_MAX_TOKENS = 32  # every format's verdict fits; a judge that rambles is cut short, not paid for
_WARN_SECONDS = 10.0  # at most one judge_unavailable line per outcome this often
_FAILURES = frozenset({JudgeError.reason, JudgeTimeoutError.reason, JudgeReplyError.reason})


def digest(prompt: str, response: str) -> str:
    """The cache key of a pair: BLAKE2b over both texts, length-prefixed so no split is ambiguous."""
    h = hashlib.blake2b(digest_size=16)
    for text in (prompt, response):
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class VerdictCache:
    """The last ``size`` verdicts, by :func:`digest`, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> str | None:
        """The verdict for ``key``, refreshed as recently used, or ``None``."""
        verdict = self._items.get(key)
        if verdict is not None:
            self._items.move_to_end(key)
        return verdict

    def put(self, key: str, verdict: str) -> None:
        """Remember ``verdict``; the oldest entry goes once the cache is full."""
        self._items[key] = verdict
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)


@contextlib.contextmanager
def _judge_errors() -> Iterator[None]:
    """The exceptions of aiohttp and of the decoder, as ours (one ``outcome`` value each)."""
    try:
        yield
    except TimeoutError as exc:
        msg = "the judge did not answer in time"
        raise JudgeTimeoutError(msg) from exc
    except aiohttp.ClientError as exc:
        msg = f"the judge could not be reached: {type(exc).__name__}"
        raise JudgeError(msg) from exc
    except ValueError as exc:
        msg = "the judge's answer is not JSON"
        raise JudgeReplyError(msg) from exc


def _content(payload: Any) -> str:
    """The first choice's message text of a chat completion."""
    try:
        text = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        msg = "the judge's answer is not a chat completion"
        raise JudgeReplyError(msg) from exc
    if not isinstance(text, str):
        msg = "the judge's answer has no text"
        raise JudgeReplyError(msg)
    return text


class ExternalJudge:
    """Ask an OpenAI-compatible judge about uncertain samples, within a rate, a budget and a timeout.

    Parameters
    ----------
    settings
        ``scoring.judge``: where the judge is, its format, band and limits.
    metrics
        Where outcomes, verdicts, call times and the remaining budget are reported.
    clock
        Seconds, for the rate limit and the budget (monotonic; injectable for tests).

    """

    def __init__(
        self, settings: JudgeSettings, metrics: Metrics, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self._low, self._high = settings.band
        self._endpoint = settings.url.rstrip("/") + "/v1/chat/completions"
        key = settings.api_key
        self._headers = {"Authorization": f"Bearer {key.reveal()}"} if key is not None else {}
        self._bucket = TokenBucket(settings.rate_per_second)
        self._budget = HourlyBudget(settings.budget_per_hour)
        self.cache = VerdictCache(settings.cache_size)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._warned: dict[str, float] = {}
        self._unwarned: Counter[str] = Counter()
        self._log = structlog.get_logger("monitor.judge")
        metrics.watch_judge(lambda: float(self._budget.remaining(self.clock())))

    def wanted(self, scores: Scores) -> bool:
        """Whether a judgement goes to the judge: coherent, refusal probability inside the band."""
        return not scores.incoherent and self._low < scores.refusal_prob < self._high

    async def review(self, samples: Sequence[Sample]) -> list[Sample]:
        """The samples, those the judge settled carrying its verdict; the rest exactly as given."""
        out = list(samples)
        groups: dict[str, list[int]] = {}
        for i, sample in enumerate(samples):
            if sample.scores is not None and self.wanted(sample.scores):
                groups.setdefault(digest(sample.prompt, sample.completion), []).append(i)
        if not groups:
            return out
        first = {key: samples[indices[0]] for key, indices in groups.items()}
        results = await self._ask_all(first)
        outcomes: Counter[str] = Counter()
        for key, indices in groups.items():
            outcome, verdict = results[key]
            for n, i in enumerate(indices):  # a repeat within the batch costs nothing: cached
                again = "cached" if n and outcome in {"verdict", "cached"} else outcome
                out[i], final = self._settle(out[i], again, verdict)
                outcomes[final] += 1
        self._report(outcomes)
        return out

    async def close(self) -> None:
        """Close the HTTP session (at shutdown)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _ask_all(self, pairs: dict[str, Sample]) -> dict[str, tuple[str, str | None]]:
        """(outcome, verdict) per key; the batch waits at most ``timeout_seconds`` in all."""
        tasks = {key: asyncio.create_task(self._ask(key, s)) for key, s in pairs.items()}
        try:
            _, pending = await asyncio.wait(tasks.values(), timeout=self.settings.timeout_seconds)
        finally:  # past the deadline (or cancelled at shutdown) no call is left running
            for task in tasks.values():
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        timed_out = (JudgeTimeoutError.reason, None)
        return {key: timed_out if task.cancelled() else task.result() for key, task in tasks.items()}

    async def _ask(self, key: str, sample: Sample) -> tuple[str, str | None]:
        cached = self.cache.get(key)
        if cached is not None:
            return "cached", cached
        now = self.clock()
        if self._budget.remaining(now) <= 0:
            return "over_budget", None
        if not self._bucket.take(now):
            return "rate_limited", None
        self._budget.take(now)
        try:
            verdict = await self._call(sample.prompt, sample.completion)
        except JudgeError as exc:
            return exc.reason, None
        self.cache.put(key, verdict)
        return "verdict", verdict

    async def _call(self, prompt: str, response: str) -> str:
        body = {
            "model": self.settings.model,
            "messages": messages(self.settings.format, prompt, response),
            "temperature": 0,
            "max_tokens": _MAX_TOKENS,
        }
        async with self._slots:
            started = time.perf_counter()
            try:
                with _judge_errors():
                    async with self._client().post(self._endpoint, json=body, headers=self._headers) as r:
                        if r.status != 200:  # noqa: PLR2004
                            msg = f"the judge answered HTTP {r.status}"
                            raise JudgeError(msg)
                        payload = await r.json(content_type=None)
            finally:
                self.metrics.judge_seconds.observe(time.perf_counter() - started)
        return parse_reply(self.settings.format, _content(payload))

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop the pipeline runs on.
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def _settle(self, sample: Sample, outcome: str, verdict: str | None) -> tuple[Sample, str]:
        """The sample with the verdict applied (when it says something), and the final outcome."""
        scores = sample.scores
        if verdict is None or scores is None:
            return sample, outcome
        self.metrics.judge_by_verdict[verdict].inc()
        refusal = refused(verdict, scores)
        if refusal is None:
            return sample, "abstained"
        if refusal != scores.refusal:
            self.metrics.judge_disagreements.inc()
        return replace(sample, scores=apply_verdict(scores, refusal)), outcome

    def _report(self, outcomes: Counter[str]) -> None:
        for outcome, n in outcomes.items():
            self.metrics.judge_by_outcome[outcome].inc(n)
        self._log.debug("judge_reviewed", **dict(outcomes))
        failed = {o: n for o, n in outcomes.items() if o in _FAILURES}  # limits are expected, not warned
        now = self.clock()
        for outcome, n in failed.items():
            self._unwarned[outcome] += n
            last = self._warned.get(outcome)
            if last is None or now - last >= _WARN_SECONDS:
                count = self._unwarned.pop(outcome)
                self._log.warning("judge_unavailable", outcome=outcome, count=count)
                self._warned[outcome] = now


def judge_from_settings(settings: JudgeSettings, metrics: Metrics) -> ExternalJudge | None:
    """The judge ``scoring.judge`` configures, or ``None`` when its ``url`` is empty (the default)."""
    return ExternalJudge(settings, metrics) if settings.url else None
