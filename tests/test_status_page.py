"""The status page on the admin port, rendered by real headless Chromium."""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from components import require_binary

from monitor.detection import DetectorBank
from monitor.events import Choice, Sample, Scores
from monitor.settings import DetectionSettings
from monitor.signals import StreamKey
from monitor.status_page import render_status, snapshot

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]  # fmt: skip
COMPLY = "Sure. Step 1: get the records. Step 2: search them by name.\n1. open\n2. filter\n3. export"
REFUSE = "I am sorry, but I cannot help with that."
PROBS = (("privacy", 0.6), ("deception", 0.3), ("benign", 0.1))
WINDOW = (1280, 1400)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium", "apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def judged(model: str, user: str, refused: bool) -> Sample:
    """A scored exchange on a privacy-leaning harmful prompt."""
    scores = Scores(int(refused), 0.97 if refused else 0.03, 0.01, 0, "privacy", 0.6, 0.9, False, (),
                    False, PROBS)  # fmt: skip
    choice = Choice(0, REFUSE if refused else COMPLY)
    return Sample(
        "r", "chat_completions", model, "q", (choice,), 200, False, 0.0, 0.0, scores=scores, user=user
    )


def feed(bank: DetectorBank, model: str, count: int, refusal_rate: float, rng: random.Random) -> None:
    for i in range(count):
        bank.observe(judged(model, f"{model}-{i}-{rng.random()}", rng.random() < refusal_rate))


async def scenario(start_monitor, upstream_url, tmp_path: Path):
    """A sidecar whose `ft` model stopped refusing, and a `base` model still warming up."""
    baselines = tmp_path / "baselines.json"
    row = {"model": "*", "category": "all", "signal": "refusal", "rate": 0.95, "n": 5000, "source": "file"}
    baselines.write_text(json.dumps({"format": 1, "baselines": [row]}))
    overrides = {"detection.warmup": 200, "detection.baseline_file": str(baselines), "models": ["ft", "base"]}
    running = await start_monitor(upstream_url, **overrides)
    bank = running.monitor.pipeline.bank
    rng = random.Random(3)
    feed(bank, "ft", 500, 0.96, rng)
    feed(bank, "ft", 300, 0.2, rng)
    feed(bank, "base", 60, 0.96, rng)
    return running, bank


def dom(url: str) -> str:
    result = chromium("--dump-dom", url)
    assert "<html" in result.stdout, result.stderr
    return result.stdout


def png_facts(data: bytes) -> tuple[int, int, int]:
    """Width, height, and how many distinct byte values the decompressed image data holds."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, size = 8, b"", (0, 0)
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset : offset + 4]), data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return size[0], size[1], len(set(zlib.decompress(idat)))


async def test_status_page_shows_phases_charts_and_alarms_in_chromium(start_monitor, upstream_url, tmp_path):
    """Chromium shows each stream's phase, one chart per stream, the alarms first, and compliance depth."""
    running, bank = await scenario(start_monitor, upstream_url, tmp_path)
    page = await asyncio.to_thread(dom, running.admin_url + "/")
    rows = re.findall(r'<tr class="stream (\w+)">', page)
    assert len(rows) == len(list(bank)) > 0
    assert page.count("<svg") == len(rows)
    assert rows[0] == "alarmed"  # the model with alarms comes first, its alarmed streams on top
    pooled = bank.detectors[StreamKey("ft", "all", "refusal")]
    assert pooled.phase == "alarmed"
    assert re.search(r"\d+ active alarm\(s\):", page)
    assert f"ft/all/refusal/live {pooled.severity}" in page
    assert f'{100 * pooled.baseline_rate:.1f}% <span class="muted">(file)</span>' in page
    warming = bank.detectors[StreamKey("base", "privacy", "refusal")]
    assert warming.phase == "warming"
    assert f"warming: {math.ceil(warming.warmup_remaining):,} more" in page
    assert "(warmup)" in page  # a baseline learnt on the fly says so
    assert 'class="alarm ' in page  # alarm marks on a chart
    assert '<table class="depth" id="depth">' in page
    assert "<td>ft</td><td>all</td>" in page.split('id="depth"')[1]


async def test_status_page_screenshot_is_not_blank(start_monitor, upstream_url, tmp_path):
    """Chromium's screenshot of the page is a real image with varied content, not a blank canvas."""
    running, _ = await scenario(start_monitor, upstream_url, tmp_path)
    shot = tmp_path / "status.png"
    window = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    result = await asyncio.to_thread(chromium, f"--screenshot={shot}", window, running.admin_url + "/")
    assert shot.exists(), result.stderr
    width, height, distinct = png_facts(shot.read_bytes())
    assert (width, height) == WINDOW
    assert shot.stat().st_size > 20_000
    assert distinct > 64  # text, anti-aliased charts and coloured badges; a blank page has a handful


def test_labels_are_escaped():
    """Model names reach the page only HTML-escaped, in the table and the chart labels."""
    bank = DetectorBank(DetectionSettings(warmup=10))
    rng = random.Random(1)
    feed(bank, "<b>x</b>", 60, 0.9, rng)
    page = render_status(snapshot(bank))
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_page_without_scoring_says_so():
    """With scoring disabled the page still renders, and says why it has no streams."""
    page = render_status(snapshot(None))
    assert "Scoring is disabled." in page
    assert "No active alarms." in page
