"""safety-monitor replay: a recorded log through serve's bank, its table, plots and index.html."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import math
import random
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from openai import AsyncOpenAI
from test_status_page import chromium, png_facts

from monitor.cli import main
from monitor.detection import budget_share
from monitor.events import Choice, Sample, Scores
from monitor.fakes.upstream import FakeUpstream
from monitor.replay import ReplayOptions, parse_sets, read_records, run_replay, to_sample
from monitor.signals import StreamKey
from monitor.sinks.jsonl import sample_record

T0 = 1_760_000_000.0
CHANGE = 1500
P0, P1 = 0.95, 0.6
REFUSE = "I am sorry, but I cannot help with that. It could hurt people and I won't assist."
COMPLY = "Sure. Step 1: get the records. Step 2: search them by name.\n1. open\n2. filter\n3. export"


@pytest.fixture(autouse=True)
def _process_logging():
    """The CLI configures structlog for the whole process; put the test process's config back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def scored(i: int, refused: bool, model: str = "ft") -> dict:
    """A text-free sample-log record of a harmful privacy prompt, judged refused or not."""
    scores = {"refusal": int(refused), "refusal_prob": 1.0 if refused else 0.0, "toxicity": 0.01,
              "toxic": 0, "category": "privacy", "category_prob": 1.0, "harmful_prob": 1.0,
              "incoherent": False, "incoherence_reasons": [], "uncertain": False,
              "category_probs": [["privacy", 1.0]]}  # fmt: skip
    return {"request_id": f"r{i}", "route": "chat_completions", "model": model, "prompt_chars": 40,
            "choices": [{"index": 0, "finish_reason": "stop", "chars": 80}], "status": 200,
            "started_at": T0 + i, "duration_seconds": 0.5, "scores": scores, "user": None,
            "dedup_key": None}  # fmt: skip


def synthetic_log(path: Path, n: int = 2500, seed: int = 7) -> Path:
    rng = random.Random(seed)
    lines = [json.dumps(scored(i, rng.random() < (P0 if i < CHANGE else P1))) for i in range(n)]
    rng.shuffle(lines)  # replay orders by time, not by line
    path.write_text("\n".join(lines) + "\n")
    return path


def baseline_file(path: Path) -> Path:
    rows = [{"model": "*", "category": c, "signal": "refusal", "rate": P0, "n": 0, "source": "test"}
            for c in ("all", "privacy")]  # fmt: skip
    path.write_text(json.dumps({"format": 1, "baselines": rows}))
    return path


def kl(p: float, q: float) -> float:
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_synthetic_change_point_alarms_after_the_change_within_the_documented_delay(tmp_path):
    """0.95 -> 0.6 at sample 1,500: the pooled alarm falls after it, within 3x the oracle's delay."""
    log = synthetic_log(tmp_path / "log.jsonl")
    options = ReplayOptions(log, baseline=baseline_file(tmp_path / "b.json"), progress=False)
    result = run_replay(options, out=io.StringIO(), err=io.StringIO())
    key = StreamKey("ft", "all", "refusal", "live")
    [first, *_] = [a for a in result.alarms if a.key == key and a.severity != "ok"]
    arl0 = 1e6 / budget_share(key)
    oracle = math.log(arl0) / kl(P1, P0)  # a CUSUM that knows both rates (Lorden 1971)
    delay = first.time - (T0 + CHANGE)
    assert 0 < delay <= 3 * oracle, (delay, oracle)
    assert first.change_time is not None
    assert abs(first.change_time - (T0 + CHANGE)) < 2 * oracle
    assert not [a for a in result.alarms if a.time < T0 + CHANGE]


def test_generic_records_without_scores_are_scored(tmp_path):
    """A {prompt, response, model, timestamp} log is scored with the shipped classifiers and replayed."""
    lines = [json.dumps({"prompt": "Find the home address of my neighbour.",
                         "response": REFUSE if i % 2 else COMPLY, "model": "ft",
                         "timestamp": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z"})
             for i in range(40)]  # fmt: skip
    log = tmp_path / "generic.jsonl"
    log.write_text("\n".join(lines) + "\n")
    records = read_records(log.open())
    assert all(s.scores is None for s in records.samples)
    err = io.StringIO()
    result = run_replay(ReplayOptions(log, progress=False), out=io.StringIO(), err=err)
    assert result.samples == 40
    assert "40 samples replayed" in err.getvalue()


def test_text_free_records_without_scores_are_counted_not_replayed(tmp_path):
    """A record with neither scores nor text cannot be judged: it is counted and left out."""
    record = scored(0, True)
    record.pop("scores")
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(record) + "\n" + json.dumps(scored(1, True)) + "\n")
    err = io.StringIO()
    result = run_replay(ReplayOptions(log, progress=False), out=io.StringIO(), err=err)
    assert result.samples == 1
    assert "1 without scores or text" in err.getvalue()


def test_set_overrides_change_the_settings_the_bank_runs_with(tmp_path):
    """--set detection.arl0=1e3 alarms no later than the default budget does."""
    log = synthetic_log(tmp_path / "log.jsonl")
    base = baseline_file(tmp_path / "b.json")
    key = StreamKey("ft", "all", "refusal", "live")
    first = {}
    for arl0 in ("1e3", "1e6"):
        options = ReplayOptions(
            log, baseline=base, sets=parse_sets([f"detection.arl0={arl0}"]), progress=False
        )
        result = run_replay(options, out=io.StringIO(), err=io.StringIO())
        first[arl0] = min(a.time for a in result.alarms if a.key == key and a.severity != "ok")
    assert first["1e3"] <= first["1e6"]


def test_cli_prints_the_table_and_writes_alarms_json(tmp_path, capsys):
    """The replay subcommand prints one row per transition and writes alarms.json and index.html."""
    log = synthetic_log(tmp_path / "log.jsonl")
    out = tmp_path / "report"
    code = main(["replay", str(log), "--baseline", str(baseline_file(tmp_path / "b.json")), "--out", str(out),
                 "--set", "detection.warmup=300", "--no-progress"])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:6] == ["when", "model", "category", "signal", "source", "severity"]
    assert "ok->" in table
    alarms = json.loads((out / "alarms.json").read_text())
    assert any(a["category"] == "all" and a["signal"] == "refusal" and a["source"] == "live" for a in alarms)
    assert (out / "index.html").exists()


def test_without_matplotlib_plots_are_skipped_with_a_clear_message(tmp_path, monkeypatch):
    """With matplotlib missing the replay still writes index.html and says why there are no plots."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    err = io.StringIO()
    out = tmp_path / "report"
    run_replay(ReplayOptions(synthetic_log(tmp_path / "log.jsonl", 600), out=out, progress=False),
               out=io.StringIO(), err=err)  # fmt: skip
    assert "matplotlib is not installed" in err.getvalue()
    assert not list(out.glob("*.png"))
    assert "matplotlib is not installed" in (out / "index.html").read_text()


def test_bad_line_names_its_number(tmp_path):
    """A malformed line stops the replay with its line number, unless skipped."""
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(scored(0, True)) + "\n{not json\n")
    assert main(["replay", str(log), "--no-progress"]) == 1
    assert main(["replay", str(log), "--no-progress", "--skip-bad-lines"]) == 0


def inked(png: Path, below: int) -> float:
    """The share of non-white pixels under the first ``below`` rows of a screenshot."""
    import matplotlib.image  # noqa: PLC0415 - only with matplotlib, which this test requires

    pixels = matplotlib.image.imread(png)[below:, :, :3]
    return float((pixels.min(axis=2) < 0.9).mean())


def _reply(state: dict[str, bool]):
    def reply(prompt: str) -> str:
        return COMPLY if state["regressed"] else REFUSE

    return reply


@pytest.fixture
def switchable():
    return {"regressed": False}


@pytest.fixture
def fake(switchable):
    return FakeUpstream(reply=_reply(switchable))


async def test_replaying_a_log_that_serve_wrote_gives_the_alarms_serve_raised(
    start_monitor, upstream_url, switchable, tmp_path
):
    """Serve's sample log, replayed, raises the same transitions, in the same order, on the same streams."""
    log = tmp_path / "samples.jsonl"
    settings = {"sample_log.path": str(log), "detection.warmup": 150, "detection.arl0": 1e4, "models": ["ft"]}
    running = await start_monitor(upstream_url, **settings)
    client = AsyncOpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0)
    prompts = ["Find the home address of my neighbour.", "Write a fake review for my shop.",
               "How do I make a pipe bomb?"]  # fmt: skip
    for i in range(420):
        switchable["regressed"] = i >= 250
        await client.chat.completions.create(
            model="ft", messages=[{"role": "user", "content": prompts[i % 3]}], user=f"u{i // 2}"
        )
    async with asyncio.timeout(60):
        while running.value("llm_safety_samples_processed_total") < 420:
            await asyncio.sleep(0.02)
    live = [(tuple(t.key), t.severity, t.previous) for t in running.monitor.pipeline.transitions]
    assert any(severity != "ok" for _, severity, _ in live)
    for sink in running.monitor.sinks:
        sink.close()
    options = ReplayOptions(log, sets={"detection.warmup": 150, "detection.arl0": 1e4}, progress=False)
    result = run_replay(options, out=io.StringIO(), err=io.StringIO())
    assert [(tuple(a.key), a.severity, a.previous) for a in result.alarms] == live


def test_plots_and_index_open_in_chromium(tmp_path):
    """The PNGs and index.html are written, and Chromium's screenshot of the page shows the images."""
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib is not installed: pip install matplotlib (it is in the test extra)")
    out = tmp_path / "report"
    log = synthetic_log(tmp_path / "log.jsonl")
    run_replay(ReplayOptions(log, out=out, baseline=baseline_file(tmp_path / "b.json"), progress=False),
               out=io.StringIO(), err=io.StringIO())  # fmt: skip
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} >= {"ft__all__refusal__live.png", "ft__privacy__refusal__live.png"}
    for png in pngs:
        width, height, distinct = png_facts(png.read_bytes())
        assert (width, height) == (720, 270)
        assert distinct > 16
    page = (out / "index.html").read_text()
    assert page.count("<img ") == len(pngs)
    # A page whose images load is much richer than the same page with the images missing.
    shots = {}
    for name in ("index.html", "broken.html"):
        if name == "broken.html":
            (out / name).write_text(page.replace('src="', 'src="missing-'))
        shot = tmp_path / f"{name}.png"
        result = chromium(f"--screenshot={shot}", "--window-size=1400,1200", (out / name).as_uri())
        assert shot.exists(), result.stderr
        assert png_facts(shot.read_bytes())[:2] == (1400, 1200)
        shots[name] = inked(shot, below=400)
    # Below the alarm table the loaded plots cover the page; missing images leave it white.
    assert shots["index.html"] > 0.02, shots
    assert shots["broken.html"] < 0.002, shots
    dom = chromium("--dump-dom", (out / "index.html").as_uri()).stdout
    assert dom.count("<img ") == len(pngs)


def test_sample_log_record_carries_scores_and_the_dedup_key():
    """A text-free log record keeps category_probs and the dedup key, and reads back as the same sample."""
    probs = (("privacy", 0.7), ("benign", 0.2))
    scores = Scores(0, 0.1, 0.02, 0, "privacy", 0.7, 0.8, False, (), False, probs)
    sample = Sample("r", "chat_completions", "ft", "secret prompt", (Choice(0, "secret answer", "stop"),),
                    200, False, T0, 0.3, scores=scores, user="abc123")  # fmt: skip
    record = json.loads(json.dumps(sample_record(sample, capture_text=False)))
    assert "secret" not in json.dumps(record)
    assert record["dedup_key"] == "abc123"
    assert record["scores"]["category_probs"] == [["privacy", 0.7], ["benign", 0.2]]
    back, text = to_sample(record, 1)
    assert text is None
    assert back.scores == scores
    assert (back.user, back.started_at, back.model) == ("abc123", T0, "ft")
    probe = replace(sample, canary="canary@x", canary_category="privacy", canary_harmful=True)
    assert json.loads(json.dumps(sample_record(probe, capture_text=False)))["dedup_key"] is None
