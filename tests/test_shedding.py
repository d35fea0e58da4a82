"""Adaptive sampling: shed copies under load (fed readings here, never the wall clock) and recover."""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from monitor.export.metrics import DROP_REASONS, Metrics
from monitor.sampling import SampleQueue, Sampler
from monitor.settings import AdaptiveSettings, SamplingSettings
from monitor.shedding import Shedder, watch_load

CHAT = "/v1/chat/completions"
GOOD = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
LAGGING = 1.0  # seconds of loop lag, far past the default threshold
CANARY = {"X-Safety-Monitor-Canary": "suite"}
FORCED = {"X-Safety-Monitor-Sample": "1"}


def overloaded(shedder: Shedder, ticks: int) -> None:
    for _ in range(ticks):
        shedder.update(LAGGING, 0.0)


def sampler(shedder: Shedder, shed: list[int], deterministic: bool = False) -> Sampler:
    settings = SamplingSettings(rate=1.0, deterministic=deterministic)
    return Sampler(settings, random.Random(0), shedder, lambda: shed.append(1))


def test_lag_halves_the_factor_down_to_zero():
    """Each overloaded tick halves the factor; below 1/64 it is zero, and priority is still kept."""
    shedder = Shedder(AdaptiveSettings())
    factors = []
    for _ in range(7):
        shedder.update(LAGGING, 0.0)
        factors.append(shedder.factor)
    assert factors == [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0]
    assert not shedder.priority


def test_a_full_backlog_sheds_like_lag():
    """Queue fill past its threshold sheds even when the loop is on time."""
    shedder = Shedder(AdaptiveSettings(queue_fill=0.5))
    shedder.update(0.0, 0.9)
    assert shedder.factor == 0.5


def test_priority_is_shed_last_and_restored_first():
    """Only overload at factor zero sheds priority samples; the first calm tick brings them back."""
    shedder = Shedder(AdaptiveSettings())
    overloaded(shedder, 8)
    assert (shedder.factor, shedder.priority) == (0.0, True)
    shedder.update(0.0, 0.0)
    assert (shedder.factor, shedder.priority) == (0.0, False)


def test_factor_climbs_back_in_recover_seconds():
    """Calm ticks raise the factor by interval/recover_seconds each, up to 1."""
    shedder = Shedder(AdaptiveSettings(interval_seconds=0.1, recover_seconds=1.0))
    overloaded(shedder, 7)
    for _ in range(10):
        shedder.update(0.0, 0.0)
    assert abs(shedder.factor - 1.0) < 1e-9
    shedder.update(0.0, 0.0)
    assert shedder.factor == 1.0


def test_between_thresholds_the_factor_holds():
    """A reading between half the threshold and the threshold neither sheds nor recovers."""
    settings = AdaptiveSettings(lag_seconds=0.02)
    shedder = Shedder(settings)
    overloaded(shedder, 1)
    shedder.update(0.015, 0.0)
    assert shedder.factor == 0.5


def test_shedding_is_uniform_over_ordinary_traffic():
    """At factor 1/4 about a quarter of rate-1 exchanges are kept and the rest reported shed."""
    shedder, shed = Shedder(AdaptiveSettings()), []
    overloaded(shedder, 2)
    s = sampler(shedder, shed, deterministic=True)
    kept = sum(s.decide("POST", CHAT, "m", f"r{i}", {}) for i in range(4000))
    assert abs(kept / 4000 - 0.25) < 4 * (0.25 * 0.75 / 4000) ** 0.5
    assert kept + len(shed) == 4000


def test_kept_exchanges_are_a_subset_of_the_configured_rate():
    """Deterministic draws: what is kept under load would also have been taken without it."""
    settings = SamplingSettings(rate=0.5, deterministic=True)
    shedder = Shedder(AdaptiveSettings())
    overloaded(shedder, 1)
    loaded = Sampler(settings, shedder=shedder)
    calm = Sampler(settings)
    ids = [f"r{i}" for i in range(2000)]
    kept = {r for r in ids if loaded.decide("POST", CHAT, "m", r, {})}
    assert kept <= {r for r in ids if calm.decide("POST", CHAT, "m", r, {})}


def test_canaries_and_forced_samples_survive_factor_zero():
    """At factor zero ordinary traffic is all shed; canaries and forced samples are still taken."""
    shedder, shed = Shedder(AdaptiveSettings()), []
    overloaded(shedder, 7)
    s = sampler(shedder, shed)
    assert not s.decide("POST", CHAT, "m", "r", {})
    assert s.decide("POST", CHAT, "m", "r", CANARY)
    assert s.decide("POST", CHAT, "m", "r", FORCED)
    assert len(shed) == 1


def test_priority_shedding_takes_canaries_and_forced_samples_too():
    """At the last stage canaries and forced samples are shed (and counted); forced-off is not shed."""
    shedder, shed = Shedder(AdaptiveSettings()), []
    overloaded(shedder, 8)
    s = sampler(shedder, shed)
    assert not s.decide("POST", CHAT, "m", "r", CANARY)
    assert not s.decide("POST", CHAT, "m", "r", FORCED)
    assert not s.decide("POST", CHAT, "m", "r", {"X-Safety-Monitor-Sample": "0"})
    assert not s.decide("GET", CHAT, "m", "r", {})
    assert len(shed) == 2


def test_shed_is_counted_as_taken_and_dropped():
    """A shed exchange counts in samples_taken and in samples_dropped{reason="shed"}."""
    registry = CollectorRegistry()
    queue = SampleQueue(4, Metrics(registry))
    queue.shed()
    assert registry.get_sample_value("llm_safety_samples_taken_total") == 1
    assert registry.get_sample_value("llm_safety_samples_dropped_total", {"reason": "shed"}) == 1


def test_the_lag_and_rate_gauges_exist_at_start_up():
    """The loop-lag gauge and the rate factor (1: nothing shed) are exported before any reading."""
    registry = CollectorRegistry()
    Metrics(registry)
    assert registry.get_sample_value("llm_safety_event_loop_lag_seconds") == 0.0
    assert registry.get_sample_value("llm_safety_sample_rate_factor_ratio") == 1.0
    assert registry.get_sample_value("llm_safety_sample_priority_shed") == 0.0


async def test_watch_load_reports_a_blocked_loop_and_feeds_the_shedder():
    """A callback that holds the loop shows up as lag, and a full queue lowers the factor."""
    registry = CollectorRegistry()
    metrics, shedder = Metrics(registry), Shedder(AdaptiveSettings())
    task = asyncio.create_task(watch_load(0.001, lambda: 1.0, metrics, shedder))
    await asyncio.sleep(0)  # the watcher starts its first sleep
    time.sleep(0.05)  # hold the loop: the watcher's timer fires at least this late
    async with asyncio.timeout(10):
        while shedder.factor == 1.0:
            await asyncio.sleep(0.001)
    task.cancel()
    lag = registry.get_sample_value("llm_safety_event_loop_lag_seconds") or 0.0
    assert lag > 0.0
    assert shedder.factor < 1.0


async def post(url: str, headers: dict[str, str] | None = None) -> None:
    async with aiohttp.ClientSession() as session, session.post(url, data=GOOD, headers=headers) as r:
        await r.read()


async def test_proxy_sheds_recovers_and_keeps_the_accounting(start_monitor, upstream_url):
    """Through the proxy: shed, priority kept, all back after recovery; taken = processed + dropped."""
    # The watcher's first reading is an hour away: only this test feeds the shedder.
    running = await start_monitor(
        upstream_url, **{"sampling.adaptive.enabled": True, "sampling.adaptive.interval_seconds": 3600}
    )
    shedder = running.monitor.shedder
    assert shedder is not None
    overloaded(shedder, 7)
    assert running.value("llm_safety_sample_rate_factor_ratio") == 0.0
    for headers in (None, None, None, CANARY, FORCED):
        await post(running.url + CHAT, headers)
    overloaded(shedder, 1)
    assert running.value("llm_safety_sample_priority_shed") == 1.0
    await post(running.url + CHAT, CANARY)
    shedder.update(0.0, 0.0)  # priority back
    shedder.update(0.0, 0.0)  # one step of 3600/10 s: straight back to 1
    assert running.value("llm_safety_sample_rate_factor_ratio") == 1.0
    for _ in range(2):
        await post(running.url + CHAT)
    async with asyncio.timeout(10):
        while running.value("llm_safety_samples_processed_total") < 4:
            await asyncio.sleep(0.01)
    assert running.value("llm_safety_samples_taken_total") == 8
    assert running.value("llm_safety_samples_dropped_total", reason="shed") == 4
    dropped = sum(running.value("llm_safety_samples_dropped_total", reason=r) for r in DROP_REASONS)
    assert running.value("llm_safety_samples_processed_total") + dropped == 8


def test_only_start_end_and_priority_changes_are_logged():
    """Halving steps are silent; shedding's start, priority on and off, and full recovery log a line."""
    shedder = Shedder(AdaptiveSettings(interval_seconds=0.1, recover_seconds=0.5))
    with capture_logs() as logs:
        overloaded(shedder, 8)  # start, 6 silent halvings, priority on
        for _ in range(6):
            shedder.update(0.0, 0.0)  # priority off, then 5 steps of 0.2 back to 1
    lines = [(e["factor"], e["priority_shed"]) for e in logs if e["event"] == "sampling_shed"]
    assert lines == [(0.5, False), (0.0, True), (0.0, False), (1.0, False)]
