"""The open-loop load generator the benchmarks share."""

from __future__ import annotations

import asyncio
import time

import aiohttp

__all__ = ["open_loop"]


async def open_loop(url: str, data: bytes, rate: float, seconds: float) -> tuple[list[float], int]:
    """POST ``data`` to ``url`` at a fixed ``rate`` for ``seconds``, never waiting for answers.

    Latency is counted from each request's scheduled start, so a stall cannot hide behind the
    requests it delayed (coordinated omission). Returns every latency and how many failed.
    """
    results: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024)) as session:

        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with session.post(url, data=data) as response:
                    await response.read()
                    errors += response.status != 200
            except aiohttp.ClientError:
                errors += 1
            results.append(time.perf_counter() - scheduled)

        start, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return results, errors
