"""SIGTERM: stop accepting, let in-flight streams finish, flush the queue, exit 0."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import aiohttp
from services import free_port, start_app, wait_ready

from monitor.fakes.upstream import FakeUpstream


async def test_sigterm_finishes_streams_and_flushes(tmp_path):
    """A stream in flight at SIGTERM completes, its sample is written, and the process exits 0."""
    fake_runner, upstream = await start_app(FakeUpstream(chunk_delay_seconds=0.05).app())
    port, admin = free_port(), free_port()
    log = tmp_path / "samples.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "serve",
        "--upstream",
        upstream,
        "--port",
        str(port),
        "--admin-port",
        str(admin),
        "--sample-log",
        str(log),
    )
    try:
        await wait_ready(f"http://127.0.0.1:{admin}/healthz")
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body) as response,
        ):
            first = await response.content.readany()
            process.send_signal(signal.SIGTERM)
            rest = await response.read()
        assert first.startswith(b"data: ")
        assert rest.endswith(b"data: [DONE]\n\n")
        assert await asyncio.wait_for(process.wait(), 30) == 0
        [record] = [json.loads(line) for line in log.read_text().splitlines()]
        assert record["complete"] is True
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake_runner.cleanup()
