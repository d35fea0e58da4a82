"""`safety-monitor demo`: the run command of the README works end to end."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_and_reports():
    """The demo starts its fake model, proxy and traffic, prints where to look, and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--port", "0", "--admin-port", "0", "--duration", "4",
         "--rate", "20", "--regress-after", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "status page" in result.stdout
    sent = int(result.stdout.strip().splitlines()[-1].split()[1])
    assert sent > 10
