"""Proxy overhead: the product at its defaults and three other settings, each against a bare pass-through.

Targets, in one run, each its own process in front of the same fake upstream process:

* ``direct``: the load generator talks to the upstream (the zero every "added" figure is taken from);
* ``pass-through``: a minimal aiohttp reverse proxy, the best a Python hop can do;
* ``defaults``: ``safety-monitor serve`` as shipped (sampling 1.0, scoring in one worker process,
  adaptive sampling on);
* ``sampling 0``: nothing copied;
* ``sampling 1, scoring``: every exchange copied and scored, adaptive sampling off;
* ``overload`` rows: long completions (4,000 words: scoring costs about 30 times more per sample)
  with and without adaptive sampling, against a pass-through carrying the same long completions.

Placement, as in a one-core sidecar: the proxy (and the scoring worker it spawns, which inherits
the pinning) on one core, the upstream and the load generator on the other
(``os.sched_setaffinity``). Load is open-loop (requests are scheduled at fixed times and latency is
measured from the scheduled time, so a stall cannot hide behind coordinated omission). Each repeat
runs every target in turn, and the table shows the median of the repeats.

    python benchmarks/proxy.py [--repeats 3] [--seconds 5] [--out benchmarks/results/proxy.txt]
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
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from load import open_loop  # benchmarks/load.py, beside this script
from prometheus_client.parser import text_string_to_metric_families

CHAT = "/v1/chat/completions"
RATES = (50, 200, 500)
STREAMS = 50
LONG = "LONG "  # a prompt starting with this gets a long completion


def body(prompt: str, stream: bool = False) -> bytes:
    payload = {"model": "bench", "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    return json.dumps(payload).encode()


SHORT_BODY = body("Say something short.")
LONG_BODY = body(LONG + "Say something long.")
STREAM_BODY = body("Hi.", stream=True)

UPSTREAM = """
from aiohttp import web
from monitor.fakes.upstream import FakeUpstream, fake_reply
WORDS = "the answer goes on to explain each step of the recipe in some detail".split()
LONG_TEXT = " ".join(WORDS[i % len(WORDS)] for i in range(4000))
def reply(prompt):
    return LONG_TEXT if prompt.startswith({long!r}) else fake_reply(prompt)
app = FakeUpstream(reply, chunk_delay_seconds=0.06).app()
web.run_app(app, host="127.0.0.1", port={port}, access_log=None, print=None)
"""
PASSTHROUGH = """
import aiohttp
from aiohttp import web
try:  # the same event loop as serve, so the baseline is not handicapped
    import uvloop
    uvloop.install()
except ImportError:
    pass
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


@dataclass
class Target:
    """One thing to measure: its process (none for direct), URL, admin URL and request body."""

    name: str
    url: str
    body: bytes = SHORT_BODY
    process: subprocess.Popen[bytes] | None = None
    admin: str | None = None
    rows: list[dict[str, float]] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(pid: int, core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(pid, {core})


def spawn(command: list[str], env: dict[str, str], core: int | None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | env
    )
    pin(process.pid, core)
    return process


def start_monitor(upstream: str, name: str, env: dict[str, str], core: int | None, bodies: bytes) -> Target:
    port, admin = free_port(), free_port()
    flags = ["serve", "--upstream", upstream, "--port", str(port), "--admin-port", str(admin)]
    process = spawn([sys.executable, "-m", "monitor", *flags, "--log-level", "warning"], env, core)
    return Target(name, f"http://127.0.0.1:{port}", bodies, process, f"http://127.0.0.1:{admin}")


def start_passthrough(upstream: str, name: str, core: int | None, bodies: bytes) -> Target:
    port = free_port()
    code = PASSTHROUGH.format(port=port, upstream=upstream)
    return Target(name, f"http://127.0.0.1:{port}", bodies, spawn([sys.executable, "-c", code], {}, core))


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(url + "/v1/models") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(url)


def family_pids(pid: int) -> list[int]:
    """The process and its descendants (the scoring worker, multiprocessing's resource tracker)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for member in family_pids(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mib(pid: int) -> float:
    total = 0
    for member in family_pids(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def streams(url: str, seconds: float) -> tuple[list[float], list[float]]:
    """``STREAMS`` concurrent clients each streaming one completion after another: TTFB and total."""
    ttfb: list[float] = []
    total: list[float] = []
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=STREAMS)) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(url + CHAT, data=STREAM_BODY) as response:
                    await response.content.readany()
                    ttfb.append(time.perf_counter() - started)
                    await response.read()
                total.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(STREAMS)))
    return ttfb, total


async def closed_loop(url: str, data: bytes, seconds: float, concurrency: int = 64) -> tuple[float, int]:
    """Maximum throughput in requests/s, and how many failed."""
    done = errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.post(url + CHAT, data=data) as response:
                    await response.read()
                    errors += response.status != 200
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / seconds, errors


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else float("nan")


async def scrape(admin: str | None) -> dict[str, float]:
    if admin is None:
        return {}
    async with aiohttp.ClientSession() as session, session.get(admin + "/metrics") as response:
        text = await response.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            reason = sample.labels.get("reason")
            values[sample.name + (f":{reason}" if reason else "")] = sample.value
    return values


async def measure(target: Target, seconds: float, full: bool) -> dict[str, float]:
    """One pass over a target: open-loop rates, streams (``full`` only), saturation, CPU, RSS."""
    await wait_up(target.url)
    await open_loop(target.url + CHAT, target.body, 100, 1.0)  # warm-up
    row: dict[str, float] = {"errors": 0.0}
    before = await scrape(target.admin)
    for rate in RATES:
        latencies, errors = await open_loop(target.url + CHAT, target.body, rate, seconds)
        row |= {f"p50@{rate}": pct(latencies, 50), f"p99@{rate}": pct(latencies, 99)}
        row["errors"] += errors
    if full:
        ttfb, total = await streams(target.url, seconds)
        row |= {"ttfb_p50": pct(ttfb, 50), "ttfb_p99": pct(ttfb, 99), "total_p99": pct(total, 99)}
    pid = target.process.pid if target.process else None
    cpu0 = cpu_seconds(pid) if pid else 0.0
    rps, errors = await closed_loop(target.url, target.body, seconds)
    row |= {"rps": rps, "errors": row["errors"] + errors}
    if pid:
        row |= {"cpu": (cpu_seconds(pid) - cpu0) / (rps * seconds), "rss": rss_mib(pid)}
    after = await scrape(target.admin)
    for key in ("samples_taken_total", "samples_processed_total", "samples_scored_total"):
        name = "llm_safety_" + key
        row[key] = after.get(name, 0.0) - before.get(name, 0.0)
    for reason in ("shed", "queue_full"):
        name = f"llm_safety_samples_dropped_total:{reason}"
        row[reason] = after.get(name, 0.0) - before.get(name, 0.0)
    if target.admin is not None:  # one scrape, so the four readings are one consistent snapshot
        dropped = sum(v for k, v in after.items() if k.startswith("llm_safety_samples_dropped_total:"))
        taken = after.get("llm_safety_samples_taken_total", 0.0)
        processed = after.get("llm_safety_samples_processed_total", 0.0)
        row["in_flight"] = taken - processed - dropped - after.get("llm_safety_sample_queue_depth", 0.0)
    return row


def median_row(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


def cores() -> tuple[int | None, int | None]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def start_all(upstream: str, proxy_core: int | None) -> list[Target]:
    off = {"SAFETY_MONITOR_SAMPLING__ADAPTIVE__ENABLED": "false"}
    zero = {"SAFETY_MONITOR_SAMPLING__RATE": "0"}
    return [
        Target("direct", upstream),
        start_passthrough(upstream, "pass-through", proxy_core, SHORT_BODY),
        start_monitor(upstream, "defaults", {}, proxy_core, SHORT_BODY),
        start_monitor(upstream, "sampling 0", zero, proxy_core, SHORT_BODY),
        start_monitor(upstream, "sampling 1, scoring", off, proxy_core, SHORT_BODY),
        Target("direct, long", upstream, LONG_BODY),
        start_passthrough(upstream, "pass-through, long", proxy_core, LONG_BODY),
        start_monitor(upstream, "overload, adaptive", {}, proxy_core, LONG_BODY),
        start_monitor(upstream, "overload, no adaptive", off, proxy_core, LONG_BODY),
    ]


async def main(args: argparse.Namespace) -> str:
    proxy_core, load_core = cores()
    pin(0, load_core)  # the load generator, and the upstream it spawns next
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    code = UPSTREAM.format(port=upstream_port, long=LONG)
    processes = [spawn([sys.executable, "-c", code], {}, load_core)]
    targets = start_all(upstream, proxy_core)
    processes += [t.process for t in targets if t.process]
    try:
        for repeat in range(args.repeats):
            for target in targets:
                full = "long" not in target.name and "overload" not in target.name
                target.rows.append(await measure(target, args.seconds, full))
                print(f"repeat {repeat + 1}: {target.name} done", file=sys.stderr, flush=True)
    finally:
        for process in processes:
            process.terminate()
    return render(targets, args, proxy_core, load_core)


def render(
    targets: list[Target], args: argparse.Namespace, proxy_core: int | None, load_core: int | None
) -> str:
    rows = {t.name: median_row(t.rows) for t in targets}
    where = (
        f"proxy+worker on CPU {proxy_core}, upstream+load on CPU {load_core}"
        if proxy_core is not None
        else "unpinned (one CPU)"
    )
    lines = [
        f"benchmarks/proxy.py: medians of {args.repeats} repeats, {args.seconds:.0f} s each; {where}",
        f"event loop of serve and the pass-through: {'uvloop' if _has_uvloop() else 'asyncio'}",
        "CPU and RSS: the proxy process and its children (scoring worker, resource tracker), at saturation",
        "",
        *latency_table(rows),
        "",
        *stream_table(rows),
        "",
        *overload_table(rows),
    ]
    return "\n".join(lines)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def latency_table(rows: dict[str, dict[str, float]]) -> list[str]:
    columns = [f"+p{q}@{r}" for r in RATES for q in (50, 99)] + [
        "max rps",
        "x pass",
        "CPU us/req",
        "RSS MiB",
        "errors",
    ]
    header = f"{'added ms vs direct':22}" + "".join(f"{c:>11}" for c in columns)
    out = [header, "-" * len(header)]
    for name, row in rows.items():
        base = rows["direct, long" if ("long" in name or "overload" in name) else "direct"]
        passing = rows["pass-through, long" if ("long" in name or "overload" in name) else "pass-through"]
        cells = [f"{1000 * (row[f'p{q}@{r}'] - base[f'p{q}@{r}']):11.2f}" for r in RATES for q in (50, 99)]
        cells += [f"{row['rps']:11.0f}", f"{row['rps'] / passing['rps']:11.2f}"]
        cells += [
            f"{1e6 * row.get('cpu', 0.0):11.0f}",
            f"{row.get('rss', 0.0):11.0f}",
            f"{row['errors']:11.0f}",
        ]
        out.append(f"{name:22}" + "".join(cells))
    return out


def stream_table(rows: dict[str, dict[str, float]]) -> list[str]:
    out = [f"{STREAMS} concurrent streams (ideal total ~ 1 s)   +TTFB p50 ms  +TTFB p99 ms  total p99 ms"]
    base = rows["direct"]
    for name, row in rows.items():
        if "ttfb_p50" in row and name != "direct":
            added = [1000 * (row[k] - base[k]) for k in ("ttfb_p50", "ttfb_p99")]
            out.append(f"  {name:42}{added[0]:12.2f}{added[1]:14.2f}{1000 * row['total_p99']:14.0f}")
    return out


def overload_table(rows: dict[str, dict[str, float]]) -> list[str]:
    out = [
        "samples in one repeat's measured phases; taken/scored is the overload of scoring capacity;",
        "in flight = taken - processed - dropped - queued since start (at most one batch, 64)",
        f"  {'target':24}{'taken':>9}{'scored':>9}{'shed':>9}{'q_full':>9}{'taken/scored':>14}{'in fl.':>8}",
    ]
    for name, row in rows.items():
        if "in_flight" in row:
            balance = row["in_flight"]
            cells = [row["samples_taken_total"], row["samples_scored_total"], row["shed"], row["queue_full"]]
            overload = row["samples_taken_total"] / max(row["samples_scored_total"], 1.0)
            text = "".join(f"{c:9.0f}" for c in cells)
            out.append(f"  {name:24}{text}{overload:14.1f}{balance:8.0f}")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--out", default="benchmarks/results/proxy.txt")
    arguments = parser.parse_args()
    report = asyncio.run(main(arguments))
    print(report)
    if arguments.out:
        Path(arguments.out).write_text(report + "\n", encoding="utf-8")
