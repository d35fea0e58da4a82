"""Settings from the environment: errors name the variable the user actually set."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.errors import ConfigError
from monitor.settings import load_settings


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("SAFETY_MONITOR_FOO", "foo"),
        ("SAFETY_MONITOR_SAMPLING__RAET", "sampling.raet"),
        ("SAFETY_MONITOR_NO__SUCH__SECTION", "no"),
        ("SAFETY_MONITOR_PORT_8080_TCP", "port_8080_tcp"),  # a Kubernetes service link
    ],
)
def test_unknown_variable_is_named_as_set(name, missing):
    """An unknown SAFETY_MONITOR_* variable is reported by its own name, not as a dotted key."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: "1"})
    assert info.value.key == name
    assert str(info.value).startswith(f"invalid setting {name}=1: unknown environment variable")
    assert f"no setting {missing}" in str(info.value)


def test_mapping_setting_takes_nested_keys():
    """A variable below a mapping setting (a per-model rate) is a key of that mapping, not unknown."""
    settings = load_settings(environ={"SAFETY_MONITOR_SAMPLING__MODELS__FT": "0.5"})
    assert settings.sampling.models == {"ft": 0.5}


def test_bad_value_from_the_environment_names_the_variable():
    """A bad value keeps its dotted key and says which variable set it."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"SAFETY_MONITOR_PORT": "tcp://10.0.0.1:8080"})
    assert info.value.key == "port"
    assert "(set by SAFETY_MONITOR_PORT)" in str(info.value)


def test_a_flag_over_a_variable_is_not_blamed_on_it():
    """When a flag overrides the variable, the error does not name the variable."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"SAFETY_MONITOR_SAMPLING__RATE": "0.5"}, overrides={"sampling.rate": 2.0})
    assert info.value.key == "sampling.rate"
    assert "SAFETY_MONITOR" not in str(info.value)


def test_cli_reports_the_variable_and_exits_2():
    """`serve` with SAFETY_MONITOR_FOO=1 exits 2 and names SAFETY_MONITOR_FOO."""
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"SAFETY_MONITOR_FOO": "1", "PATH": "/usr/bin:/bin", "LANG": "C"},
    )
    assert result.returncode == 2
    assert "SAFETY_MONITOR_FOO=1" in result.stderr
