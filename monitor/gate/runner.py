"""Ask both endpoints every item K times: bounded concurrency, retries with backoff, a rate limit.

Each answer is appended to a JSONL file as soon as it arrives and flushed, so an interrupted run
resumes where it stopped: :func:`run_all` skips every (side, item, sample) already in the file. The
file name carries the suite digest, so a changed suite never mixes with old answers. Requests are
identical for both sides except the model name: same messages, ``temperature``, ``max_tokens`` and
``seed`` (``seed + sample``, so K samples differ but reruns repeat).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

from monitor.gate.suite import Item

__all__ = ["Answer", "Endpoint", "RunSettings", "load_answers", "run_all"]

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of the comparison: ``base`` or ``candidate``, its URL and model name."""

    side: str
    url: str
    model: str
    api_key: str | None = None

    @property
    def chat_url(self) -> str:
        """The chat completions URL; a base URL with or without ``/v1`` both work."""
        root = self.url.rstrip("/")
        return f"{root}/chat/completions" if root.endswith("/v1") else f"{root}/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How requests are sent: sampling parameters, concurrency, retries, timeout and rate."""

    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int = 0
    concurrency: int = 8
    retries: int = 4
    backoff_seconds: float = 0.5
    timeout_seconds: float = 120.0
    rate_per_second: float | None = None
    progress: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """One response of one side to one item."""

    side: str
    id: str
    sample: int
    text: str
    finish_reason: str | None

    @property
    def key(self) -> tuple[str, str, int]:
        """What makes an answer unique, and what resuming skips."""
        return self.side, self.id, self.sample


def load_answers(path: Path) -> dict[tuple[str, str, int], Answer]:
    """The answers saved so far; a torn last line (an interrupted write) is ignored."""
    out: dict[tuple[str, str, int], Answer] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            answer = Answer(**json.loads(line))
        except (ValueError, TypeError):
            continue
        out[answer.key] = answer
    return out


class _Pacer:
    """At most ``rate`` request starts per second, across every worker."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


async def run_all(
    endpoints: Sequence[Endpoint], items: Iterable[Item], path: Path, settings: RunSettings
) -> dict[tuple[str, str, int], Answer]:
    """Every answer for every endpoint, item and sample, resuming from ``path``."""
    done = load_answers(path)
    todo = [
        (e, i, k)
        for i in items
        for e in endpoints
        for k in range(settings.samples)
        if (e.side, i.id, k) not in done
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    queue: asyncio.Queue[tuple[Endpoint, Item, int]] = asyncio.Queue()
    for job in todo:
        queue.put_nowait(job)
    timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
    bar = tqdm(total=len(todo), desc="gate", unit="req", disable=not settings.progress)
    with path.open("a", encoding="utf-8") as out, bar:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            worker = _Worker(session, settings, _Pacer(settings.rate_per_second), out, bar, done)
            workers = max(1, min(settings.concurrency, len(todo)))
            await asyncio.gather(*(worker.drain(queue) for _ in range(workers)))
    return done


class _Worker:
    """Sends queued requests with retries; records each answer in ``done`` and in the file."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: RunSettings,
        pacer: _Pacer,
        out: TextIO,
        bar: tqdm[Any],
        done: dict[tuple[str, str, int], Answer],
    ) -> None:
        self.session, self.settings, self.pacer = session, settings, pacer
        self.out, self.bar, self.done = out, bar, done

    async def drain(self, queue: asyncio.Queue[tuple[Endpoint, Item, int]]) -> None:
        while not queue.empty():
            endpoint, item, sample = queue.get_nowait()
            answer = await self._ask(endpoint, item, sample)
            self.out.write(json.dumps(asdict(answer), ensure_ascii=False) + "\n")
            self.out.flush()
            self.done[answer.key] = answer
            self.bar.update()

    async def _ask(self, endpoint: Endpoint, item: Item, sample: int) -> Answer:
        body = {
            "model": endpoint.model,
            "messages": [{"role": role, "content": text} for role, text in item.messages],
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "seed": self.settings.seed + sample,
        }
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        for attempt in range(self.settings.retries + 1):
            await self.pacer.wait()
            try:
                data = await self._post(endpoint.chat_url, body, headers)
            except (aiohttp.ClientError, TimeoutError, _RetryableError):
                if attempt == self.settings.retries:
                    raise
                await asyncio.sleep(self.settings.backoff_seconds * 2**attempt * (0.5 + random.random()))
                continue
            choice = data["choices"][0]
            text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
            return Answer(endpoint.side, item.id, sample, str(text), choice.get("finish_reason"))
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        async with self.session.post(url, json=body, headers=headers) as response:
            if response.status in _RETRY_STATUS:
                raise _RetryableError(response.status)
            response.raise_for_status()
            data: dict[str, Any] = await response.json(content_type=None)
            return data


class _RetryableError(Exception):
    """A status worth retrying (rate limited, overloaded, a gateway error)."""
