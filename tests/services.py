"""Real Prometheus and Alertmanager processes on free ports, started and cleaned up by the tests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from components import require_binary
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, seconds: float = 60) -> None:
    async with asyncio.timeout(seconds), aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


@asynccontextmanager
async def process(command: list[str], ready: str, log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            await wait_ready(ready)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@asynccontextmanager
async def prometheus(tmp: Path, targets: list[str], rule_files: list[str], job: str):
    binary = require_binary("prometheus", "apt-get install prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": rule_files,
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    command = [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    async with process(command, f"http://127.0.0.1:{port}/-/ready", tmp / "prometheus.log"):
        yield f"http://127.0.0.1:{port}"


@asynccontextmanager
async def alertmanager(tmp: Path, webhook: str):
    binary = require_binary("prometheus-alertmanager", "apt-get install prometheus-alertmanager")
    port = free_port()
    config = {
        "route": {"receiver": "test", "group_by": ["alertname", "model", "category", "signal"],
                  "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "test", "webhook_configs": [{"url": webhook, "send_resolved": True}]}],
    }  # fmt: skip
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
    command = [binary, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}",
               f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    async with process(command, f"http://127.0.0.1:{port}/-/ready", tmp / "alertmanager.log"):
        yield f"http://127.0.0.1:{port}"


async def query(base: str, expr: str) -> list[dict[str, Any]]:
    """Instant query; raises AssertionError with Prometheus's error when the expression fails."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base}/api/v1/query", params={"query": expr}) as r,
    ):
        body = await r.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


async def webhook_receiver(port: int = 0) -> tuple[web.AppRunner, str, list[bytes]]:
    """A webhook endpoint on loopback (``port`` 0: a free one): the runner, its URL and the bodies."""
    received: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received


async def start_app(app: web.Application, **runner_kwargs: Any) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free loopback port; returns the runner and its base URL."""
    runner_kwargs = {"handler_cancellation": True, "shutdown_timeout": 2.0} | runner_kwargs
    runner = web.AppRunner(app, access_log=None, **runner_kwargs)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Series:
    """A blocking read of ``/metrics`` on loopback: (name, sorted labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
