"""The admin server: metrics with documented names and labels, liveness and readiness."""

from __future__ import annotations

import asyncio

import aiohttp
import structlog
from prometheus_client.parser import text_string_to_metric_families

CHAT = "/v1/chat/completions"
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "a private question"}]}'

DOCUMENTED = {
    "llm_safety_build_info": {"version"},
    "llm_safety_proxy_requests": {"route", "model", "code_class"},
    "llm_safety_proxy_request_duration_seconds": {"route"},
    "llm_safety_proxy_time_to_first_byte_seconds": {"route"},
    "llm_safety_proxy_overhead_seconds": set(),
    "llm_safety_proxy_requests_in_flight": set(),
    "llm_safety_proxy_upstream_errors": {"reason"},
    "llm_safety_proxy_client_disconnects": set(),
    "llm_safety_sample_queue_depth": set(),
    "llm_safety_sample_queue_capacity": set(),
    "llm_safety_samples_taken": set(),
    "llm_safety_samples_processed": set(),
    "llm_safety_samples_dropped": {"reason"},
    "llm_safety_internal_errors": {"stage", "reason"},
}


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_have_documented_names_and_labels(running):
    """/metrics exposes every documented family with exactly its documented labels."""
    async with aiohttp.ClientSession() as session, session.post(running.url + CHAT, data=BODY) as response:
        assert response.status == 200
    _, text = await get(running.admin_url + "/metrics")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, labels in DOCUMENTED.items():
        assert name in families, name
        for sample in families[name].samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)
    assert (
        running.value(
            "llm_safety_proxy_requests_total", route="chat_completions", model="m", code_class="2xx"
        )
        == 1
    )
    assert running.value("llm_safety_build_info", version="0.1.0") == 1


async def test_unknown_models_fold_into_other(start_monitor, upstream_url):
    """With an allowlist, other model names are labelled `other`."""
    running = await start_monitor(upstream_url, models=["allowed"])
    async with aiohttp.ClientSession() as session, session.post(running.url + CHAT, data=BODY) as response:
        assert response.status == 200
    assert (
        running.value(
            "llm_safety_proxy_requests_total", route="chat_completions", model="other", code_class="2xx"
        )
        == 1
    )


async def test_healthz_and_readyz(running):
    """Healthz is always ok; readyz is ok once the pipeline runs and the upstream answers."""
    assert (await get(running.admin_url + "/healthz"))[0] == 200
    async with asyncio.timeout(10):
        while (await get(running.admin_url + "/readyz"))[0] != 200:
            await asyncio.sleep(0.02)


async def test_readyz_fails_without_upstream(start_monitor, unused_tcp_port):
    """Readyz is 503 when the upstream is unreachable."""
    running = await start_monitor(f"http://127.0.0.1:{unused_tcp_port}")
    status, text = await get(running.admin_url + "/readyz")
    assert status == 503
    assert '"upstream": false' in text


async def test_exchange_logs_carry_no_text(running):
    """The per-exchange log line has ids and timings, never the prompt."""
    with structlog.testing.capture_logs() as logs:
        async with (
            aiohttp.ClientSession() as session,
            session.post(running.url + CHAT, data=BODY) as response,
        ):
            await response.read()
    [line] = [entry for entry in logs if entry["event"] == "exchange_proxied"]
    assert line["status"] == 200
    assert "a private question" not in repr(logs)


async def test_status_page_serves_the_bank_and_says_when_scoring_is_off(running, start_monitor, upstream_url):
    """`/` is an HTML page over the live bank; with scoring disabled it says so instead of failing."""
    async with aiohttp.ClientSession() as session, session.post(running.url + CHAT, data=BODY) as response:
        await response.read()
    async with asyncio.timeout(10):
        while not list(running.monitor.pipeline.bank):
            await asyncio.sleep(0.02)
    status, text = await get(running.admin_url + "/")
    assert status == 200
    assert text.count("<svg") == text.count('<tr class="stream ') > 0
    off = await start_monitor(upstream_url, **{"scoring.enabled": False})
    status, text = await get(off.admin_url + "/")
    assert status == 200
    assert "Scoring is disabled." in text
