"""Sampling decisions and the bounded queue."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry

from monitor.events import Exchange
from monitor.export.metrics import Metrics
from monitor.sampling import SampleQueue, Sampler, model_name
from monitor.settings import SamplingSettings

CHAT = "/v1/chat/completions"


def decide(
    settings: SamplingSettings, rid: str = "r", model: str | None = "m", headers=None, path=CHAT
) -> bool:
    return Sampler(settings, random.Random(0)).decide("POST", path, model, rid, headers or {})


def test_rate_zero_never_samples():
    """Rate 0 takes nothing."""
    assert not any(decide(SamplingSettings(rate=0.0), rid=str(i)) for i in range(100))


def test_only_completion_routes_qualify():
    """Other routes and non-POST methods are never captured."""
    assert not decide(SamplingSettings(rate=1.0), path="/v1/embeddings")
    assert not Sampler(SamplingSettings()).decide("GET", CHAT, None, "r", {})


def test_force_header_overrides_rate():
    """The force header turns sampling on or off regardless of rate."""
    assert decide(SamplingSettings(rate=0.0), headers={"X-Safety-Monitor-Sample": "1"})
    assert not decide(SamplingSettings(rate=1.0), headers={"X-Safety-Monitor-Sample": "false"})


def test_canary_is_always_sampled():
    """A canary probe is sampled even at rate 0."""
    assert decide(SamplingSettings(rate=0.0), headers={"X-Safety-Monitor-Canary": "suite-1"})


def test_model_rate_overrides_route_rate():
    """Per-model rules win over per-route rules, which win over the default."""
    settings = SamplingSettings(rate=0.0, routes={CHAT: 0.0}, models={"ft": 1.0})
    assert decide(settings, model="ft")
    assert not decide(settings, model="base")
    assert decide(SamplingSettings(rate=0.0, routes={CHAT: 1.0}))


def test_deterministic_sampling_follows_request_id():
    """With deterministic sampling the same request id always gets the same answer, at about the rate."""
    settings = SamplingSettings(rate=0.3, deterministic=True)
    first = [decide(settings, rid=f"req-{i}") for i in range(4000)]
    again = [Sampler(settings).decide("POST", CHAT, "m", f"req-{i}", {}) for i in range(4000)]
    assert first == again
    assert abs(sum(first) / 4000 - 0.3) < 4 * (0.3 * 0.7 / 4000) ** 0.5


def test_model_name_found_without_parsing():
    """The model field is found in raw bytes, wherever it sits."""
    assert model_name(b'{"messages": [], "model" : "llama-3"}') == "llama-3"
    assert model_name(b"not json") is None


def exchange(i: int) -> Exchange:
    return Exchange(str(i), "chat_completions", "m", b"{}", 200, "", (), False, 0.0, 0.0)


def test_queue_drops_when_full_and_counts():
    """Offer never blocks: past capacity it drops and counts queue_full."""
    registry = CollectorRegistry()
    queue = SampleQueue(2, Metrics(registry))
    kept = [queue.offer(exchange(i)) for i in range(5)]
    assert kept == [True, True, False, False, False]
    assert registry.get_sample_value("llm_safety_samples_dropped_total", {"reason": "queue_full"}) == 3
    assert registry.get_sample_value("llm_safety_sample_queue_depth") == 2
