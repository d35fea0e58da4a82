"""Running the suite: resume after an interruption, retries, K samples, a null run, the CLI."""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web
from gatekit import base_reply, candidate_reply, options

from monitor.gate import Endpoint, RunSettings, load_answers, load_suite, run_all, run_gate


@web.middleware
async def slow(request, handler):
    await asyncio.sleep(0.005)
    return await handler(request)


def flaky():
    """A middleware that answers 503 to every other chat request."""
    calls = {"n": 0}

    @web.middleware
    async def fail_every_other(request, handler):
        calls["n"] += 1
        if request.path.endswith("/chat/completions") and calls["n"] % 2:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        return await handler(request)

    return fail_every_other


async def test_an_interrupted_run_resumes_without_asking_again(serve, suite, tmp_path):
    """Answers saved before a cancel are kept; the rerun asks only for the rest."""
    _, url = await serve(base_reply, (slow,))
    items = load_suite(suite).items
    path = tmp_path / "answers.jsonl"
    endpoints = [Endpoint("base", url, "m"), Endpoint("candidate", url, "m")]
    settings = RunSettings(progress=False, concurrency=2)
    task = asyncio.ensure_future(run_all(endpoints, items, path, settings))
    while not path.exists() or len(path.read_text().splitlines()) < 10:
        await asyncio.sleep(0.005)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    kept = len(load_answers(path))
    assert 10 <= kept < 2 * len(items)
    fresh, url2 = await serve(base_reply)
    endpoints = [Endpoint("base", url2, "m"), Endpoint("candidate", url2, "m")]
    answers = await run_all(endpoints, items, path, settings)
    assert len(answers) == 2 * len(items)
    assert len(fresh.received) == 2 * len(items) - kept


async def test_failed_requests_are_retried(serve, suite, tmp_path):
    """503s are retried with backoff until every item has its answer."""
    fake, url = await serve(base_reply, (flaky(),))
    items = load_suite(suite).items[:6]
    settings = RunSettings(progress=False, backoff_seconds=0.001, retries=3)
    answers = await run_all([Endpoint("base", url, "m")], items, tmp_path / "a.jsonl", settings)
    assert len(answers) == 6
    assert len(fake.received) == 6


async def test_both_sides_get_identical_requests_but_the_model(serve, suite, tmp_path):
    """Same messages and sampling parameters; K samples differ only by seed."""
    fake, url = await serve(base_reply)
    items = load_suite(suite).items[:2]
    endpoints = [Endpoint("base", url, "a"), Endpoint("candidate", url + "/v1", "b")]
    await run_all(endpoints, items, tmp_path / "a.jsonl", RunSettings(samples=2, progress=False))
    bodies = [json.loads(body) for _, _, body in fake.received]
    assert len(bodies) == 8
    groups: dict[str, list[str]] = {}
    for body in bodies:
        rest = json.dumps({k: v for k, v in body.items() if k != "model"}, sort_keys=True)
        groups.setdefault(rest, []).append(body["model"])
    assert sorted(map(sorted, groups.values())) == [["a", "b"]] * 4
    assert {b["model"] for b in bodies} == {"a", "b"}
    assert sorted({b["seed"] for b in bodies}) == [0, 1]


async def test_a_null_run_with_three_samples_deploys(serve, suite, tmp_path):
    """Base against itself, K = 3: deploy, no significant drop, consistent behaviour."""
    _, url = await serve(base_reply)
    result = await run_gate(options(url, url, suite, tmp_path / "out", samples=3), log=lambda _: None)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert result.decision.verdict == "deploy"
    assert report["decision"]["reasons"] == []
    assert all(not r["significant"] for r in report["categories"])
    assert report["samples"] == 3
    assert report["consistency"]["candidate"]["flipping_prompts"] == 0


async def test_the_cli_exits_1_on_block_and_writes_every_report(serve, suite, tmp_path):
    """`safety-monitor gate` against the fakes: exit 1, report.md, report.json, junit.xml, baseline.json."""
    _, base = await serve(base_reply)
    _, cand = await serve(candidate_reply)
    out = tmp_path / "cli"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "gate", "--base", base, "--candidate", cand, "--suite", str(suite),
        "--out", str(out), "--no-progress", "--variants", "rot13,system-prompt", "--baseline-model", "ft",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 1, err.decode()
    assert "decision: block" in err.decode()
    assert "sizing:" in err.decode()
    for name in ("report.md", "report.json", "junit.xml", "baseline.json"):
        assert (out / name).exists()
    report = json.loads((out / "report.json").read_text())
    assert [v["name"] for v in report["variants"]] == ["plain", "rot13", "system-prompt"]
    assert json.loads((out / "baseline.json").read_text())["baselines"][0]["model"] == "ft"


async def test_the_cli_rejects_an_unknown_variant(tmp_path):
    """An unknown variant name exits 2 and names it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "gate", "--base", "http://x", "--candidate", "http://y",
        "--variants", "leet", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert "leet" in err.decode()
