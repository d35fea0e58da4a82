"""Exchange → queue: which exchanges are copied for scoring, and the bounded queue they wait in."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Mapping

from monitor.events import Exchange
from monitor.export.metrics import Metrics
from monitor.parsing import Work
from monitor.settings import CHAT_ROUTE, COMPLETIONS_ROUTE, SamplingSettings

__all__ = ["CAPTURED_ROUTES", "SampleQueue", "Sampler", "model_name"]

CAPTURED_ROUTES = frozenset({CHAT_ROUTE, COMPLETIONS_ROUTE})
_MODEL = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.){1,256})"')
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HASH_SCALE = float(1 << 64)


def model_name(body: bytes) -> str | None:
    """The request's ``model`` field, found without parsing the JSON (this runs on every request)."""
    found = _MODEL.search(body)
    return found.group(1).decode("utf-8", "replace") if found else None


class Sampler:
    """Decide, per exchange, whether to copy it for scoring.

    Order: only POSTs to the completion routes qualify; the force header (``1``/``0``) wins; canary
    probes are always taken; then the model's rate, else the route's, else ``rate``. With
    ``deterministic`` the draw is a hash of the request id, so replicas and replays agree.

    Parameters
    ----------
    settings
        The sampling section of the settings.
    rng
        Source of randomness when not deterministic (seed it in tests).

    """

    def __init__(self, settings: SamplingSettings, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.rng = rng or random.Random()
        self._route_rates: Mapping[str, float] = {
            route: settings.routes.get(route, settings.rate) for route in CAPTURED_ROUTES
        }
        self._draw = self._hashed if settings.deterministic else self._random

    def decide(
        self, method: str, path: str, model: str | None, request_id: str, headers: Mapping[str, str]
    ) -> bool:
        """True when this exchange should be copied."""
        rate = self._route_rates.get(path)
        if rate is None or method != "POST":
            return False
        forced = headers.get(self.settings.force_header)
        if forced is not None:
            if forced.lower() in _TRUE:
                return True
            if forced.lower() in _FALSE:
                return False
        if self.settings.canary_header in headers:
            return True
        if model is not None:
            rate = self.settings.models.get(model, rate)
        return rate >= 1.0 or (rate > 0.0 and self._draw(request_id) < rate)

    def _random(self, _: str) -> float:
        return self.rng.random()

    @staticmethod
    def _hashed(request_id: str) -> float:
        digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest) / _HASH_SCALE


class SampleQueue:
    """A bounded queue of Exchanges; ``offer`` never waits, and counts what it drops.

    Every sampled exchange is counted in ``samples_taken`` here, whether it is queued or dropped
    (``offer`` on a full queue, ``reject`` before a copy exists), so that taken = processed + dropped.
    """

    def __init__(self, maxsize: int, metrics: Metrics) -> None:
        self.maxsize = maxsize
        self.metrics = metrics
        self.queue: asyncio.Queue[Work] = asyncio.Queue(maxsize)
        self._taken = metrics.samples_taken
        metrics.watch_queue(self.queue.qsize, maxsize)

    def offer(self, exchange: Exchange) -> bool:
        """Enqueue, or drop and count when full. Returns whether it was kept."""
        self._taken.inc()
        try:
            self.queue.put_nowait(exchange)
        except asyncio.QueueFull:
            self.metrics.drop("queue_full")
            return False
        return True

    def reject(self, reason: str) -> None:
        """Count a sampled exchange whose copy cannot be queued at all, as taken and dropped."""
        self._taken.inc()
        self.metrics.drop(reason)
