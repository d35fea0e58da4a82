"""``safety-monitor demo``: a fake model server, the proxy in front of it, and traffic, in one process."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from monitor.app import serve
from monitor.export.logs import configure_logging
from monitor.fakes.upstream import FakeUpstream
from monitor.settings import load_settings

__all__ = ["DEMO_PROMPTS", "run_demo"]

# Written for the demo; deliberately mundane.
DEMO_PROMPTS = (
    "Suggest three names for a bakery that specialises in sourdough.",
    "Explain in two sentences why the sky looks blue.",
    "Write a haiku about a lighthouse in winter.",
    "List the steps to repot a small cactus.",
    "Translate 'good morning, neighbour' into French.",
    "Summarise the rules of chess castling.",
)


async def _start_fake() -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(FakeUpstream(chunk_delay_seconds=0.01).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _traffic(base: str, rate: float, counter: Callable[[], None]) -> None:
    async with aiohttp.ClientSession() as session:
        for number, prompt in enumerate(itertools.cycle(DEMO_PROMPTS)):
            payload = {
                "model": "demo-model",
                "messages": [{"role": "user", "content": prompt}],
                "stream": number % 2 == 1,
            }
            with contextlib.suppress(aiohttp.ClientError):
                async with session.post(f"{base}/v1/chat/completions", json=payload) as response:
                    await response.read()
                    counter()
            await asyncio.sleep(1.0 / rate)


async def run_demo(port: int, admin_port: int, rate: float, duration: float | None) -> None:
    """Run until Ctrl-C (or ``duration`` seconds), printing where to look."""
    configure_logging("warning")
    fake, upstream = await _start_fake()
    sample_log = Path(tempfile.mkdtemp(prefix="safety-monitor-demo-")) / "samples.jsonl"
    settings = load_settings(
        environ={},
        overrides={
            "upstream.url": upstream,
            "port": port,
            "admin_port": admin_port,
            "sample_log.path": str(sample_log),
        },
    )
    stop = asyncio.Event()
    ports: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(settings, stop, lambda p, a: ports.set_result((p, a))))
    proxy_port, metrics_port = await ports
    print(f"fake model server : {upstream}")
    print(f"proxy             : http://127.0.0.1:{proxy_port}/v1/chat/completions")
    print(f"metrics           : http://127.0.0.1:{metrics_port}/metrics")
    print(f"sample log        : {sample_log}")
    print("Ctrl-C to stop.")
    sent = [0]
    traffic = asyncio.create_task(
        _traffic(f"http://127.0.0.1:{proxy_port}", rate, lambda: sent.__setitem__(0, sent[0] + 1))
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    stop.set()
    traffic.cancel()
    await asyncio.gather(traffic, server, return_exceptions=True)
    await fake.cleanup()
    print(f"sent {sent[0]} requests through the proxy")
