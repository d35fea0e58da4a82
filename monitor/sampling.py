"""Exchange → queue: which exchanges are copied for scoring, and the bounded queue they wait in."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import Callable, Mapping

from monitor.events import Exchange
from monitor.export.metrics import Metrics
from monitor.parsing import Work
from monitor.settings import CHAT_ROUTE, COMPLETIONS_ROUTE, AdaptiveSettings, SamplingSettings
from monitor.shedding import Shedder

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

    Under load ``shedder`` scales every rate by its ``factor`` and, at its last stage, sheds forced
    and canary samples too. An exchange that would have been copied but is shed is reported to
    ``on_shed`` (counted as taken and dropped, reason ``shed``); the draw is the same one, so the
    kept exchanges are a random subset of those the configured rate would take.

    Parameters
    ----------
    settings
        The sampling section of the settings.
    rng
        Source of randomness when not deterministic (seed it in tests).
    shedder
        Adaptive sampling's state; without it nothing is shed.
    on_shed
        Called once per shed exchange.

    """

    def __init__(
        self,
        settings: SamplingSettings,
        rng: random.Random | None = None,
        shedder: Shedder | None = None,
        on_shed: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.rng = rng or random.Random()
        # Without adaptive sampling a shedder that is never fed: factor 1, nothing shed.
        self.shedder = shedder or Shedder(AdaptiveSettings(enabled=False))
        self.on_shed = on_shed or _ignore
        self._route_rates: Mapping[str, float] = {
            route: settings.routes.get(route, settings.rate) for route in CAPTURED_ROUTES
        }
        self._draw = self._hashed if settings.deterministic else self._random
        self._force = settings.force_header
        self._canary = settings.canary_header
        self._models = settings.models

    def decide(
        self, method: str, path: str, model: str | None, request_id: str, headers: Mapping[str, str]
    ) -> bool:
        """True when this exchange should be copied."""
        rate = self._route_rates.get(path)
        if rate is None or method != "POST":
            return False
        verdict = self._priority(headers)
        if verdict is not None:
            return verdict
        if model is not None and self._models:
            rate = self._models.get(model, rate)
        return rate > 0.0 and self._drawn(rate, request_id)

    def _priority(self, headers: Mapping[str, str]) -> bool | None:
        """The force header's or a canary's verdict; ``None`` for ordinary traffic."""
        forced = headers.get(self._force)
        if forced is not None:
            forced = forced.lower()
            if forced in _FALSE:
                return False
            if forced in _TRUE:
                return self._unless_shed()
        if self._canary in headers:
            return self._unless_shed()
        return None

    def _unless_shed(self) -> bool:
        if self.shedder.priority:
            self.on_shed()
            return False
        return True

    def _drawn(self, rate: float, request_id: str) -> bool:
        factor = self.shedder.factor
        if factor >= 1.0:
            return rate >= 1.0 or self._draw(request_id) < rate
        draw = self._draw(request_id)
        if draw >= rate:
            return False  # not sampled at any load
        if draw < rate * factor:
            return True
        self.on_shed()
        return False

    def _random(self, _: str) -> float:
        return self.rng.random()

    @staticmethod
    def _hashed(request_id: str) -> float:
        digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest) / _HASH_SCALE


def _ignore() -> None:
    """No one counts shed exchanges."""


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

    def fill(self) -> float:
        """How full the queue is, 0..1 (what adaptive sampling reads)."""
        return self.queue.qsize() / self.maxsize

    def shed(self) -> None:
        """Count an exchange adaptive sampling chose not to copy, as taken and dropped."""
        self.reject("shed")

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
