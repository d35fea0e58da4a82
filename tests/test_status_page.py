"""The status page on the admin port, rendered by real headless Chromium."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile

from components import require_binary

from detectors import RateShiftDetector
from monitor.signals import StreamKey

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium", "apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_status_page_shows_live_alarm_in_chromium(running, tmp_path):
    """Chromium renders the page; after a regression it shows the alarm and the new estimate."""
    bank = running.monitor.pipeline.bank
    detector = RateShiftDetector(0.95, "down")
    bank.detectors[StreamKey("ft", "privacy", "refusal")] = detector
    before = await asyncio.to_thread(chromium, "--dump-dom", running.admin_url + "/")
    assert "No active alarms." in before.stdout, before.stderr
    for _ in range(200):
        detector.update(0.0)
    after = await asyncio.to_thread(chromium, "--dump-dom", running.admin_url + "/")
    assert "1 active alarm(s)" in after.stdout
    assert "ft/privacy/refusal critical" in after.stdout
    assert "95.0%" in after.stdout
    shot = tmp_path / "status.png"
    result = await asyncio.to_thread(
        chromium, f"--screenshot={shot}", "--window-size=1100,500", running.admin_url + "/"
    )
    assert shot.exists(), result.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5000
