"""The kafka section and mode: validated by key, secrets only from the environment or a file."""

from __future__ import annotations

import pytest

from monitor.errors import ConfigError
from monitor.settings import Secret, load_settings

SASL = {"kafka.bootstrap": ["k:9092"], "kafka.security_protocol": "SASL_SSL", "kafka.sasl_username": "u"}


def test_defaults_are_proxy_mode_with_the_sink_off_and_auto_version():
    """Out of the box: proxy mode, no sink, negotiated api_version, the documented topic."""
    s = load_settings(environ={})
    assert (s.mode, s.kafka.sink.enabled, s.kafka.version) == ("proxy", False, None)
    assert s.kafka.sink.topic == "llm-safety-events"


def test_api_version_is_parsed():
    """A dotted api_version becomes the tuple kafka-python takes."""
    assert load_settings(environ={}, overrides={"kafka.api_version": "0.9"}).kafka.version == (0, 9)


def test_tap_mode_needs_brokers():
    """Tap mode without kafka.bootstrap names the key."""
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap"):
        load_settings(environ={}, overrides={"mode": "tap"})


def test_a_tap_may_not_publish_to_its_own_topic():
    """Publishing scored events to a consumed topic would loop; refused by key."""
    overrides = {"mode": "tap", "kafka.bootstrap": ["k:1"], "kafka.sink.enabled": True}
    overrides["kafka.tap.topics"] = ["llm-safety-events"]
    with pytest.raises(ConfigError, match=r"kafka\.sink\.topic"):
        load_settings(environ={}, overrides=overrides)


def test_password_from_the_environment_is_kept_raw_and_never_shown():
    """The variable's text is the password (no YAML parsing), and repr/str show only ***."""
    s = load_settings(environ={"SAFETY_MONITOR_KAFKA__SASL_PASSWORD": "0123"}, overrides=SASL)
    assert s.kafka.sasl_password == Secret("0123")
    assert s.kafka.sasl_password.reveal() == "0123"
    assert "0123" not in repr(s)
    assert "0123" not in str(s.kafka.sasl_password)


def test_password_from_a_file(tmp_path):
    """sasl_password_file is read at start-up, trailing newline stripped."""
    (tmp_path / "pw").write_text("s3cret\n")
    s = load_settings(environ={}, overrides={**SASL, "kafka.sasl_password_file": str(tmp_path / "pw")})
    assert s.kafka.sasl_password is not None
    assert s.kafka.sasl_password.reveal() == "s3cret"


def test_password_in_the_config_file_is_refused_without_echoing_it(tmp_path):
    """A secret in YAML is an error naming the key and the variable to use, not the value."""
    config = tmp_path / "c.yaml"
    config.write_text("kafka:\n  sasl_password: hunter2\n")
    with pytest.raises(ConfigError, match="SAFETY_MONITOR_KAFKA__SASL_PASSWORD") as info:
        load_settings(config, environ={})
    assert "hunter2" not in str(info.value)


def test_sasl_without_a_password_names_the_key():
    """SASL with no password at all fails on kafka.sasl_password."""
    with pytest.raises(ConfigError, match=r"kafka\.sasl_password"):
        load_settings(environ={}, overrides=SASL)
