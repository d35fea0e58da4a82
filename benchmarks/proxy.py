"""Proxy overhead: direct vs a minimal aiohttp pass-through vs our proxy at 0% and 100% sampling.

Every target runs in its own process in front of the same fake upstream process, in one run, so the
figures are ratios against baselines measured under the same noise. Load is open-loop (requests are
scheduled at fixed times and latency is measured from the scheduled time, so a stall cannot hide
behind coordinated omission).

    python benchmarks/proxy.py [--rate 500] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

CHAT = "/v1/chat/completions"
BODY = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "Say something short."}]}
).encode()
STREAM_BODY = json.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Hi."}]}
).encode()

UPSTREAM = """
from aiohttp import web
from monitor.fakes.upstream import FakeUpstream
web.run_app(FakeUpstream().app(), host="127.0.0.1", port={port}, access_log=None, print=None)
"""
PASSTHROUGH = """
import aiohttp
from aiohttp import web
async def ctx(app):
    app["s"] = aiohttp.ClientSession(auto_decompress=False)
    yield
    await app["s"].close()
async def handle(request):
    body = await request.read()
    headers = {{"Content-Type": "application/json"}}
    url = "{upstream}" + request.raw_path
    async with request.app["s"].request(request.method, url, data=body, headers=headers) as up:
        headers = {{"Content-Type": up.headers["Content-Type"]}}
        response = web.StreamResponse(status=up.status, headers=headers)
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response
app = web.Application()
app.cleanup_ctx.append(ctx)
app.router.add_route("*", "/{{tail:.*}}", handle)
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(code: str | None, args: list[str] | None = None, scoring: bool = True) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "monitor", *(args or [])]
    env = os.environ | {"SAFETY_MONITOR_SCORING__ENABLED": "true" if scoring else "false"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url + "/v1/models") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise RuntimeError(url)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_loop(url: str, body: bytes, rate: float, seconds: float, stream: bool) -> list[float]:
    """Latency (or time to first chunk) of each request, from its scheduled start."""
    results: list[float] = []
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(scheduled: float) -> None:
            async with session.post(url + CHAT, data=body) as response:
                if stream:
                    await response.content.readany()
                    results.append(time.perf_counter() - scheduled)
                    await response.read()
                else:
                    await response.read()
                    results.append(time.perf_counter() - scheduled)

        start, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return results


async def closed_loop(url: str, seconds: float, concurrency: int = 64) -> float:
    """Maximum throughput in requests/s."""
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.post(url + CHAT, data=BODY) as response:
                    await response.read()
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / seconds


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else float("nan")


async def measure(name: str, url: str, pid: int | None, args: argparse.Namespace) -> dict[str, float]:
    await wait_up(url)
    await open_loop(url, BODY, args.rate, 1.0, stream=False)  # warm-up
    cpu0 = cpu_seconds(pid) if pid else 0.0
    latencies = await open_loop(url, BODY, args.rate, args.seconds, stream=False)
    cpu = (cpu_seconds(pid) - cpu0) / len(latencies) if pid else 0.0
    ttfb = await open_loop(url, STREAM_BODY, args.stream_rate, args.seconds, stream=True)
    throughput = await closed_loop(url, args.seconds)
    return {
        "name": name,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "ttfb_p50": pct(ttfb, 50),
        "ttfb_p99": pct(ttfb, 99),
        "rps": throughput,
        "cpu": cpu,
    }


async def main(args: argparse.Namespace) -> None:
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    processes = [spawn(UPSTREAM.format(port=upstream_port))]
    targets: list[tuple[str, str, subprocess.Popen[bytes] | None]] = [("direct", upstream, None)]
    port = free_port()
    processes.append(spawn(PASSTHROUGH.format(port=port, upstream=upstream)))
    targets.append(("aiohttp pass-through", f"http://127.0.0.1:{port}", processes[-1]))
    for rate, scoring, label in (
        ("0", True, "proxy, sampling 0%"),
        ("1", False, "proxy, 100%, no scoring"),
        ("1", True, "proxy, 100%, scoring"),
    ):
        port = free_port()
        flags = [
            "serve",
            "--upstream",
            upstream,
            "--port",
            str(port),
            "--admin-port",
            "0",
            "--sample-rate",
            rate,
            "--log-level",
            "warning",
        ]
        processes.append(spawn(None, flags, scoring))
        targets.append((label, f"http://127.0.0.1:{port}", processes[-1]))
    try:
        rows = [await measure(name, url, p.pid if p else None, args) for name, url, p in targets]
    finally:
        for process in processes:
            process.terminate()
    direct, minimal = rows[0], rows[1]
    print("scoring runs in its own worker process; its CPU is not in the proxy's CPU column")
    print(f"open-loop {args.rate:.0f} req/s, {args.stream_rate:.0f} streams/s; {args.seconds:.0f} s each")
    columns = ("+p50 ms", "+p99 ms", "+TTFB p50", "+TTFB p99", "max req/s", "vs pass", "CPU us/req")
    header = f"{'target':24} " + " ".join(f"{c:>10}" for c in columns)
    print(header)
    print("-" * len(header))
    for row in rows:
        added = [1000 * (row[k] - direct[k]) for k in ("p50", "p99", "ttfb_p50", "ttfb_p99")]
        ratio = row["rps"] / minimal["rps"]
        cells = [
            *(f"{a:10.2f}" for a in added),
            f"{row['rps']:10.0f}",
            f"{ratio:10.2f}",
            f"{1e6 * row['cpu']:10.0f}",
        ]
        print(f"{row['name']:24} " + " ".join(cells))
    print("targets at 100% sampling: +p99 <= 1 ms, +TTFB p99 <= 1 ms, max req/s >= 0.90 x pass-through")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--stream-rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=5)
    asyncio.run(main(parser.parse_args()))
