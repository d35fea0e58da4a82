"""Lost samples are logged rate-limited: one line per reason per interval, with the count."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from monitor.export.logs import DropLog


def drop_lines(logs: list[dict]) -> list[tuple[str, int]]:
    return [(e["reason"], e["count"]) for e in logs if e["event"] == "samples_dropped"]


async def test_a_burst_gives_one_line_at_once_and_one_summed_line():
    """The first drop is logged at once; the rest of the interval is summed into one line."""
    log = DropLog(interval_seconds=0.05)
    with capture_logs() as logs:
        for _ in range(1000):
            log.count("queue_full")
        assert drop_lines(logs) == [("queue_full", 1)]
        await asyncio.sleep(0.3)
    assert drop_lines(logs) == [("queue_full", 1), ("queue_full", 999)]


async def test_reasons_are_limited_separately():
    """Each reason gets its own first line and its own summed line."""
    log = DropLog(interval_seconds=0.05)
    with capture_logs() as logs:
        for reason in ("queue_full", "not_json", "queue_full", "not_json", "not_json"):
            log.count(reason)
        await asyncio.sleep(0.3)
    assert sorted(drop_lines(logs)) == [
        ("not_json", 1),
        ("not_json", 2),
        ("queue_full", 1),
        ("queue_full", 1),
    ]


async def test_a_quiet_reason_logs_at_once_again():
    """After an interval with no drops, the next drop is logged immediately."""
    log = DropLog(interval_seconds=0.02)
    with capture_logs() as logs:
        log.count("sink_error", 3)
        await asyncio.sleep(0.2)
        log.count("sink_error", 2)
    assert drop_lines(logs) == [("sink_error", 3), ("sink_error", 2)]


async def test_flush_logs_what_is_pending():
    """flush() (at shutdown) writes the pending counts without waiting for the interval."""
    log = DropLog(interval_seconds=3600)
    with capture_logs() as logs:
        log.count("queue_full")
        log.count("queue_full", 4)
        log.flush()
    assert drop_lines(logs) == [("queue_full", 1), ("queue_full", 4)]


def test_outside_an_event_loop_every_drop_is_logged():
    """Without a running loop there is no timer to sum with, so nothing is held back."""
    log = DropLog(interval_seconds=3600)
    with capture_logs() as logs:
        log.count("queue_full")
        log.count("queue_full")
    assert drop_lines(logs) == [("queue_full", 1), ("queue_full", 1)]
