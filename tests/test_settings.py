"""Settings: layering, and errors that name the key and the value."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from monitor.errors import ConfigError
from monitor.settings import load_settings


def test_layers_override_in_order(tmp_path):
    """Flags beat environment, which beats the YAML file, which beats defaults."""
    config = tmp_path / "monitor.yaml"
    config.write_text("port: 9000\nsampling:\n  rate: 0.1\n  models: {ft: 1.0}\n")
    env = {"SAFETY_MONITOR_SAMPLING__RATE": "0.2", "SAFETY_MONITOR_ADMIN_PORT": "9999"}
    settings = load_settings(config, env, {"admin_port": 0, "host": None})
    assert settings.port == 9000
    assert settings.sampling.rate == 0.2
    assert settings.sampling.models == {"ft": 1.0}
    assert settings.admin_port == 0
    assert settings.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("env", "key", "value"),
    [
        ({"SAFETY_MONITOR_SAMPLING__RATE": "1.5"}, "sampling.rate", 1.5),
        ({"SAFETY_MONITOR_UPSTREAM__URL": "localhost:8000"}, "upstream.url", "localhost:8000"),
        ({"SAFETY_MONITOR_PORT": "eighty"}, "port", "eighty"),
        ({"SAFETY_MONITOR_PORT": "70000"}, "port", 70000),
        ({"SAFETY_MONITOR_SAMPLING__MODELS": "{ft: 2}"}, "sampling.models.ft", 2.0),
        ({"SAFETY_MONITOR_NO_SUCH": "1"}, "SAFETY_MONITOR_NO_SUCH", 1),
        ({"SAFETY_MONITOR_CAPTURE_TEXT": "maybe"}, "capture_text", "maybe"),
        (
            {"SAFETY_MONITOR_SAMPLE_LOG__PATH": "/no/such/dir/x.jsonl"},
            "sample_log.path",
            "/no/such/dir/x.jsonl",
        ),
    ],
)
def test_bad_values_name_key_and_value(env, key, value):
    """Each invalid setting is reported with its dotted key and the offending value."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert info.value.key == key
    assert info.value.value == value
    assert key in str(info.value)


def test_unreadable_file_is_named(tmp_path):
    """A missing config file is a ConfigError naming the path."""
    with pytest.raises(ConfigError, match="cannot read file") as info:
        load_settings(tmp_path / "missing.yaml", {})
    assert info.value.key == "config"


def test_cli_reports_port_in_use_and_exits_2(unused_tcp_port):
    """`serve` on a busy port exits 2 with a message naming the key and the port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", unused_tcp_port))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "serve", "--port", str(unused_tcp_port), "--admin-port", "0"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert f"port={unused_tcp_port}" in result.stderr


def test_cli_rejects_bad_rate():
    """A bad flag value stops start-up with the key named."""
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "serve", "--sample-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "sampling.rate=2.0" in result.stderr
