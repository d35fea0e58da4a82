"""`safety-monitor demo` cleans up after itself however it stops, and prints the monitor's logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

_READY = "Ctrl-C to stop."


def start_demo(tmp_path, *extra: str) -> subprocess.Popen[str]:
    env = os.environ | {"TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "monitor", "demo", "--port", "0", "--admin-port", "0", "--rate", "20"]
    return subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
        env=env,
    )


def wait_until_ready(proc: subprocess.Popen[str]) -> list[str]:
    """Lines printed up to the ready line (a watchdog kills a demo that never gets there)."""
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(_READY):
                break
    finally:
        watchdog.cancel()
    return lines


def leftovers(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("safety-monitor-demo-"))


def log_events(tmp_path) -> list[str]:
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines if line.startswith("{")]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_removes_the_temporary_folder(tmp_path, sig):
    """Ctrl-C (SIGINT) or SIGTERM stops the demo with exit 0 and removes its sample-log folder."""
    proc = start_demo(tmp_path)
    printed = wait_until_ready(proc)
    assert any(line.startswith("sample log") for line in printed), printed
    assert len(leftovers(tmp_path)) == 1
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 0
    assert leftovers(tmp_path) == []
    events = log_events(tmp_path)
    assert "monitor_started" in events
    assert "monitor_stopped" in events


def test_duration_end_removes_the_temporary_folder_and_logs(tmp_path):
    """A demo that ends by --duration also removes its folder, and its log has monitor_started."""
    proc = start_demo(tmp_path, "--duration", "2")
    wait_until_ready(proc)
    assert proc.wait(timeout=60) == 0
    assert leftovers(tmp_path) == []
    assert "monitor_started" in log_events(tmp_path)


def test_busy_port_fails_fast_and_cleans_up(tmp_path, unused_tcp_port):
    """A demo that cannot listen exits 2 naming the port, instead of hanging, and leaves nothing."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", unused_tcp_port))
        busy.listen()
        env = os.environ | {"TMPDIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "demo", "--port", str(unused_tcp_port), "--admin-port", "0"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
    assert result.returncode == 2, result.stderr
    assert f"port={unused_tcp_port}" in result.stderr
    assert leftovers(tmp_path) == []
