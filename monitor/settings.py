"""One frozen, typed ``Settings``, built once at start-up from defaults < YAML < environment < flags.

Environment variables are ``SAFETY_MONITOR_<SECTION>__<KEY>`` (double underscore between levels), e.g.
``SAFETY_MONITOR_SAMPLING__RATE=0.25``; values are parsed as YAML scalars, so ``true``, ``0.5`` and
``[a, b]`` work. Every error names the dotted key and the bad value, and, when the value came from
the environment, the variable that set it; an unknown variable is reported by its own name.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from monitor.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "AdaptiveSettings",
    "AlertSettings",
    "CanarySettings",
    "DetectionSettings",
    "JudgeSettings",
    "KafkaSettings",
    "KafkaSinkSettings",
    "LogSettings",
    "SampleLogSettings",
    "SamplingSettings",
    "ScoringSettings",
    "Secret",
    "Settings",
    "TapSettings",
    "UpstreamSettings",
    "load_settings",
]

ENV_PREFIX = "SAFETY_MONITOR_"
MODES = ("proxy", "tap")
# From the environment or a file, never YAML or flags.
_SECRET_KEYS = frozenset({"kafka.sasl_password", "scoring.judge.api_key"})
CHAT_ROUTE = "/v1/chat/completions"
COMPLETIONS_ROUTE = "/v1/completions"


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """Where the model server is and how long to wait for it.

    ``read_timeout_seconds`` bounds the silence between two chunks, not the whole exchange, because a
    long generation streams for minutes.
    """

    url: str = "http://127.0.0.1:8000"
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 300.0
    max_connections: int = 1000


@dataclass(frozen=True, slots=True)
class AdaptiveSettings:
    """Adaptive sampling: shed copies, not traffic, when the proxy or the scoring backlog falls behind.

    Every ``interval_seconds`` the event-loop lag and the sample queue's fill are read. Past
    ``lag_seconds`` or ``queue_fill`` the sample rates are halved (down to zero), then canaries and
    forced samples are shed too; below half of both, they climb back, from zero to the configured
    rates in ``recover_seconds``.
    """

    enabled: bool = True
    interval_seconds: float = 0.1
    lag_seconds: float = 0.02
    queue_fill: float = 0.5
    recover_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class SamplingSettings:
    """Which exchanges are copied for scoring, and how many may wait.

    ``routes`` and ``models`` map a route or a model name to its own rate, overriding ``rate``. Only
    the OpenAI completion routes are ever captured; other routes pass through untouched.
    """

    rate: float = 1.0
    deterministic: bool = False
    routes: Mapping[str, float] = field(default_factory=dict)
    models: Mapping[str, float] = field(default_factory=dict)
    force_header: str = "X-Safety-Monitor-Sample"
    canary_header: str = "X-Safety-Monitor-Canary"
    queue_size: int = 1024
    capture_max_bytes: int = 256 << 10
    adaptive: AdaptiveSettings = field(default_factory=AdaptiveSettings)


@dataclass(frozen=True, slots=True)
class SampleLogSettings:
    """The optional JSONL log of sampled exchanges, rotated at ``max_bytes`` with ``backups`` kept."""

    path: Path | None = None
    max_bytes: int = 64 << 20
    backups: int = 3


JUDGE_FORMATS = ("json", "wildguard", "llama_guard")


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """The optional external LLM judge (``monitor.scoring.judge``), asked about uncertain samples only.

    ``url`` is an OpenAI-compatible server (empty: no judge); ``model`` the name it serves. The key
    is read from the environment variable that ``api_key_env`` names, never from settings. Samples
    whose refusal probability lies strictly inside ``band`` are sent, at most ``rate_per_second``
    and ``budget_per_hour`` calls (a sliding hour), ``concurrency`` at a time, each given
    ``timeout_seconds``. ``format`` is how the judge is asked and read: ``json``, ``wildguard`` or
    ``llama_guard``. ``cache_size`` verdicts are remembered by digest of (prompt, response).
    """

    url: str = ""
    model: str = ""
    api_key_env: str = ""
    api_key: Secret | None = None
    format: str = "json"
    band: tuple[float, ...] = (0.2, 0.8)
    timeout_seconds: float = 5.0
    rate_per_second: float = 2.0
    budget_per_hour: int = 3600
    concurrency: int = 4
    cache_size: int = 10000


@dataclass(frozen=True, slots=True)
class ScoringSettings:
    """Classifiers: on or off, batch size, model folder (default: packaged) and worker processes.

    ``processes: 0`` scores in a thread of the proxy process instead of a worker process. ``encoder``
    reads each prompt through the sentence encoder too, for the harm category. ``judge``
    is the optional external LLM judge for uncertain samples (off unless ``judge.url`` is set).
    """

    enabled: bool = True
    batch_size: int = 64
    model_dir: Path | None = None
    processes: int = 1
    encoder: bool = True
    judge: JudgeSettings = field(default_factory=JudgeSettings)


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """Drift detectors per (model, category, signal).

    ``arl0`` is the family-wise false-alarm budget: scored samples per false alarm, for the whole
    bank (see ``monitor.detection``). ``zone``/``relative_zone`` is the indifference zone: the
    smallest change worth waking someone for. ``guard`` is how far an estimated baseline is moved
    toward the bad side (a one-sided confidence). Streams without a baseline in ``baseline_file``
    learn one from their first ``warmup`` weight of observations. ``window`` is the weight of the
    recent window that estimates report. ``correct_rates`` reports refusal rates corrected for the
    judge's held-out error. ``enabled: false`` scores without detecting (sidecars whose scored events a
    tap detects over the whole fleet). ``dedup_seconds``: a user's requests within this many seconds of each
    other form a burst, weighted ``1/c``.
    """

    enabled: bool = True
    method: str = "rate_shift"
    arl0: float = 1e6
    zone: float = 0.0
    relative_zone: float = 0.0
    guard: float = 0.8
    warmup: int = 500
    window: float = 500.0
    correct_rates: bool = False
    baseline_file: Path | None = None
    checkpoint_path: Path | None = None
    checkpoint_seconds: float = 60.0
    dedup_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where detector alarms are delivered: Alertmanager's v2 API and/or a generic JSON webhook."""

    alertmanager_url: str | None = None
    webhook_url: str | None = None
    interval_seconds: float = 30.0
    runbook_base: str = "https://github.com/llm-safety-monitor/llm-safety-monitor/blob/main/docs/runbooks/"


class Secret:
    """A credential: its ``repr`` and ``str`` are ``***``, so a log line or traceback never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one client that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class KafkaSinkSettings:
    """The scored-event sink: one JSON event per scored sample to ``topic``, keyed by model.

    At most ``buffer_size`` events wait for the broker; past that, new events are dropped and counted.
    """

    enabled: bool = False
    topic: str = "llm-safety-events"
    buffer_size: int = 10000
    retry_backoff_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class TapSettings:
    """``safety-monitor tap``: the topics consumed, the group, and how bad records are handled.

    A record whose processing fails ``max_failures`` times is skipped (to ``dead_letter_topic`` when
    set). ``dedup_size`` ids per partition are remembered to skip redeliveries. ``state_dir`` holds one
    checkpoint per partition (detector state and the next offset), shared by every consumer of the group.
    """

    topics: tuple[str, ...] = ("inference-logs",)
    group: str = "llm-safety-monitor"
    max_failures: int = 3
    dead_letter_topic: str | None = None
    dedup_size: int = 100000
    state_dir: Path | None = None
    session_timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """The brokers and how to reach them; passed through to kafka-python.

    ``api_version`` is ``auto`` (negotiated) or a dotted version such as ``0.9`` or ``2.8.0``.
    ``sasl_password`` comes only from ``SAFETY_MONITOR_KAFKA__SASL_PASSWORD`` or ``sasl_password_file``.
    """

    bootstrap: tuple[str, ...] = ()
    client_id: str = "llm-safety-monitor"
    api_version: str = "auto"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    sink: KafkaSinkSettings = field(default_factory=KafkaSinkSettings)
    tap: TapSettings = field(default_factory=TapSettings)

    @property
    def version(self) -> tuple[int, ...] | None:
        """``api_version`` as kafka-python takes it; ``None`` to negotiate."""
        if self.api_version == "auto":
            return None
        return tuple(int(part) for part in self.api_version.split("."))


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Structured logging: level and renderer."""

    level: str = "info"
    format: str = "json"


@dataclass(frozen=True, slots=True)
class CanarySettings:
    """Canary probes: a suite's prompts sent to the upstream on a schedule, into streams of their own.

    ``suite`` is a file in the gate's suite format (default: the packaged canary suite). Every
    ``interval_seconds`` (± ``jitter``, a fraction) a round sends the next ``per_round`` items, at
    most ``rate_per_second`` and ``budget_per_hour`` of them, to ``model`` (default: the first of
    ``models``) with fixed ``temperature``, ``max_tokens`` and ``seed``. Canary streams learn their
    baseline from ``warmup`` weight of probes.
    """

    enabled: bool = False
    suite: Path | None = None
    model: str | None = None
    interval_seconds: float = 300.0
    jitter: float = 0.1
    per_round: int = 4
    rate_per_second: float = 1.0
    budget_per_hour: int = 120
    timeout_seconds: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int = 0
    warmup: int = 100


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the monitor needs, validated; build it with :func:`load_settings`."""

    mode: str = "proxy"
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    host: str = "127.0.0.1"
    port: int = 8080
    admin_host: str = "127.0.0.1"
    admin_port: int = 9464
    max_body_bytes: int = 16 << 20
    models: tuple[str, ...] = ()
    max_auto_models: int = 10
    capture_text: bool = False
    shutdown_timeout_seconds: float = 30.0
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    sample_log: SampleLogSettings = field(default_factory=SampleLogSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    canary: CanarySettings = field(default_factory=CanarySettings)
    log: LogSettings = field(default_factory=LogSettings)


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, a YAML file, ``SAFETY_MONITOR_*`` variables and flag overrides; validate once.

    ``overrides`` uses dotted keys (``"upstream.url"``); ``None`` values are ignored, so unset CLI
    flags fall through to the layers below.
    """
    tree: dict[str, Any] = {}
    if config_file is not None:
        _merge(tree, _read_yaml(config_file))
    _refuse_secrets(tree, "the config file")
    _refuse_secrets(_nest_all(overrides or {}), "a flag")
    environ = os.environ if environ is None else environ
    env_tree, origins = _from_env(environ)
    _merge(tree, env_tree)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _merge(tree, _nest(dotted.split("."), value))
            origins.pop(dotted, None)
    try:
        settings: Settings = _judge_key(_password_from_file(_build(Settings, tree, "")), environ)
        _validate(settings)
    except ConfigError as exc:
        raise _named_by_env(exc, origins) from exc
    return settings


def _nest_all(overrides: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is not None:
            _merge(tree, _nest(dotted.split("."), value))
    return tree


def _refuse_secrets(tree: Mapping[str, Any], where: str) -> None:
    """Secrets may only come from the environment or a file, so they never sit in a ConfigMap."""
    for dotted in _SECRET_KEYS:
        node: Any = tree
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            problem = f"a secret cannot be set in {where}: use {_env_name(dotted)} or {dotted}_file"
            raise ConfigError(dotted, Secret(str(node)), problem)


def _env_name(dotted: str) -> str:
    return ENV_PREFIX + "__".join(dotted.upper().split("."))


def _password_from_file(settings: Settings) -> Settings:
    path = settings.kafka.sasl_password_file
    if path is None:
        return settings
    try:
        secret = Secret(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError("kafka.sasl_password_file", str(path), f"cannot read: {exc.strerror}") from exc
    return dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka, sasl_password=secret))


def _judge_key(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The judge's key from the variable ``scoring.judge.api_key_env`` names, so no key sits in settings."""
    judge = settings.scoring.judge
    if not judge.api_key_env:
        return settings
    if not environ.get(judge.api_key_env):
        problem = f"the environment variable {judge.api_key_env} is not set or empty"
        raise ConfigError("scoring.judge.api_key_env", judge.api_key_env, problem)
    judge = dataclasses.replace(judge, api_key=Secret(environ[judge.api_key_env]))
    return dataclasses.replace(settings, scoring=dataclasses.replace(settings.scoring, judge=judge))


def _named_by_env(exc: ConfigError, origins: Mapping[str, str]) -> ConfigError:
    """``exc``, saying which environment variable set the bad value (when one did)."""
    for dotted, name in origins.items():
        if exc.key == dotted or exc.key.startswith(dotted + "."):
            return ConfigError(exc.key, exc.value, f"{exc.problem} (set by {name})")
    return exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("config", str(path), f"cannot read file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError("config", str(path), f"not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("config", str(path), "top level must be a mapping")
    return loaded


def _from_env(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings tree from ``SAFETY_MONITOR_*``, and which variable set each dotted key."""
    tree: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        try:
            value = yaml.safe_load(raw) if raw and ".".join(path) not in _SECRET_KEYS else raw
        except yaml.YAMLError:
            value = raw
        _check_env_path(name, path, value)
        _merge(tree, _nest(path, value))
        origins[".".join(path)] = name
    return tree, origins


def _check_env_path(name: str, path: list[str], value: Any) -> None:
    """Reject a variable that names no setting, by the variable's own name (not a dotted key)."""
    cls: Any = Settings
    for depth, part in enumerate(path):
        hints = typing.get_type_hints(cls)
        if part not in hints or part not in {f.name for f in dataclasses.fields(cls)}:
            known = ".".join(path[: depth + 1])
            raise ConfigError(name, value, f"unknown environment variable: there is no setting {known}")
        if not dataclasses.is_dataclass(hints[part]):
            return  # deeper parts are keys inside this setting's value (a mapping)
        cls = hints[part]


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(path):
        node = {part: node}
    return typing.cast("dict[str, Any]", node)


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _build(cls: type[Any], tree: Any, prefix: str) -> Any:
    if not isinstance(tree, Mapping):
        raise ConfigError(prefix.rstrip("."), tree, "expected a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(tree) - names)
    if unknown:
        raise ConfigError(prefix + unknown[0], tree[unknown[0]], "unknown setting")
    kwargs = {name: _coerce(hints[name], tree[name], prefix + name) for name in names if name in tree}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(typing.cast("type[Any]", hint), value, key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return _coerce(inner, value, key)
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(key, value, "expected a list")
        return tuple(_coerce(typing.get_args(hint)[0], item, key) for item in items)
    if origin is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(key, value, "expected a mapping")
        return {str(k): _coerce(typing.get_args(hint)[1], v, f"{key}.{k}") for k, v in value.items()}
    return _scalar(hint, value, key)


def _scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, value, "expected true or false")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(key, value, f"expected a number ({hint.__name__})")
        try:
            number = hint(value)
        except ValueError as exc:
            raise ConfigError(key, value, f"expected a number ({hint.__name__})") from exc
        if hint is int and number != float(value):
            raise ConfigError(key, value, "expected a whole number")
        return number
    if hint is Path:
        return Path(str(value))
    if hint is Secret:
        return Secret(str(value))
    return str(value)


def _validate(s: Settings) -> None:
    _check("mode", s.mode, s.mode in MODES, f"must be one of {list(MODES)}")
    _check_url("upstream.url", s.upstream.url)
    _validate_kafka(s)
    _validate_canary(s)
    _validate_judge(s.scoring.judge)
    for key, url in (
        ("alerts.alertmanager_url", s.alerts.alertmanager_url),
        ("alerts.webhook_url", s.alerts.webhook_url),
    ):
        if url is not None:
            _check_url(key, url)
    for key, port in (("port", s.port), ("admin_port", s.admin_port)):
        _check(key, port, 0 <= port <= 65535, "must be between 0 and 65535")  # noqa: PLR2004
    _check("sampling.rate", s.sampling.rate, 0.0 <= s.sampling.rate <= 1.0, "must be between 0 and 1")
    fill = s.sampling.adaptive.queue_fill
    _check("sampling.adaptive.queue_fill", fill, 0.0 < fill <= 1.0, "must be in (0, 1]")
    for section, rates in (("sampling.routes", s.sampling.routes), ("sampling.models", s.sampling.models)):
        for name, rate in rates.items():
            _check(f"{section}.{name}", rate, 0.0 <= rate <= 1.0, "must be between 0 and 1")
    for key, value in (
        ("upstream.connect_timeout_seconds", s.upstream.connect_timeout_seconds),
        ("upstream.read_timeout_seconds", s.upstream.read_timeout_seconds),
        ("upstream.max_connections", s.upstream.max_connections),
        ("max_body_bytes", s.max_body_bytes),
        ("sampling.queue_size", s.sampling.queue_size),
        ("sampling.capture_max_bytes", s.sampling.capture_max_bytes),
        ("sampling.adaptive.interval_seconds", s.sampling.adaptive.interval_seconds),
        ("sampling.adaptive.lag_seconds", s.sampling.adaptive.lag_seconds),
        ("sampling.adaptive.recover_seconds", s.sampling.adaptive.recover_seconds),
        ("sample_log.max_bytes", s.sample_log.max_bytes),
        ("scoring.batch_size", s.scoring.batch_size),
        ("detection.arl0", s.detection.arl0),
        ("detection.warmup", s.detection.warmup),
        ("detection.checkpoint_seconds", s.detection.checkpoint_seconds),
        ("detection.dedup_seconds", s.detection.dedup_seconds),
        ("detection.window", s.detection.window),
        ("alerts.interval_seconds", s.alerts.interval_seconds),
    ):
        _check(key, value, value > 0, "must be positive")
    _check("scoring.processes", s.scoring.processes, 0 <= s.scoring.processes <= 64, "must be 0..64")  # noqa: PLR2004
    _check("shutdown_timeout_seconds", s.shutdown_timeout_seconds, s.shutdown_timeout_seconds >= 0, ">= 0")
    methods = {"rate_shift", "adwin", "page_hinkley"}
    _check(
        "detection.method",
        s.detection.method,
        s.detection.method in methods,
        f"must be one of {sorted(methods)}",
    )
    for key, zone in (
        ("detection.zone", s.detection.zone),
        ("detection.relative_zone", s.detection.relative_zone),
    ):
        _check(key, zone, 0.0 <= zone < 1.0, "must be in [0, 1)")
    guard = s.detection.guard
    _check("detection.guard", guard, 0.5 <= guard < 1.0, "must be in [0.5, 1)")  # noqa: PLR2004
    for key, path in (
        ("detection.baseline_file", s.detection.baseline_file),
        ("scoring.model_dir", s.scoring.model_dir),
    ):
        _check(key, str(path), path is None or path.exists(), "does not exist")
    levels = {"debug", "info", "warning", "error"}
    _check("log.level", s.log.level, s.log.level in levels, f"must be one of {sorted(levels)}")
    _check("log.format", s.log.format, s.log.format in {"json", "console"}, "must be json or console")
    if s.sample_log.path is not None:
        parent = s.sample_log.path.expanduser().resolve().parent
        ok = parent.is_dir() and os.access(parent, os.W_OK)
        _check("sample_log.path", str(s.sample_log.path), ok, "its directory is missing or not writable")


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _validate_canary(s: Settings) -> None:
    c = s.canary
    for key, value in (
        ("canary.interval_seconds", c.interval_seconds),
        ("canary.per_round", c.per_round),
        ("canary.rate_per_second", c.rate_per_second),
        ("canary.budget_per_hour", c.budget_per_hour),
        ("canary.timeout_seconds", c.timeout_seconds),
        ("canary.max_tokens", c.max_tokens),
        ("canary.warmup", c.warmup),
    ):
        _check(key, value, value > 0, "must be positive")
    _check("canary.jitter", c.jitter, 0.0 <= c.jitter < 1.0, "must be in [0, 1)")
    _check("canary.suite", str(c.suite), c.suite is None or c.suite.is_file(), "is not a file")
    if c.enabled:
        _check("canary.model", c.model, bool(c.model or s.models), "must be set (or models) to send probes")
        _check("canary.enabled", c.enabled, s.mode == "proxy", "needs mode proxy (probes go to the upstream)")


def _validate_judge(j: JudgeSettings) -> None:
    for key, value in (
        ("scoring.judge.timeout_seconds", j.timeout_seconds),
        ("scoring.judge.rate_per_second", j.rate_per_second),
        ("scoring.judge.budget_per_hour", j.budget_per_hour),
        ("scoring.judge.concurrency", j.concurrency),
        ("scoring.judge.cache_size", j.cache_size),
    ):
        _check(key, value, value > 0, "must be positive")
    formats = list(JUDGE_FORMATS)
    _check("scoring.judge.format", j.format, j.format in JUDGE_FORMATS, f"must be one of {formats}")
    band = list(j.band)
    ok = len(band) == 2 and 0.0 <= band[0] < band[1] <= 1.0  # noqa: PLR2004
    _check("scoring.judge.band", band, ok, "must be [low, high] with 0 <= low < high <= 1")
    if j.url:
        _check_url("scoring.judge.url", j.url)
        _check("scoring.judge.model", j.model, bool(j.model), "must be set: the model name the judge serves")


def _validate_kafka(s: Settings) -> None:
    k = s.kafka
    needed = s.mode == "tap" or k.sink.enabled
    _check(
        "kafka.bootstrap",
        list(k.bootstrap),
        bool(k.bootstrap) or not needed,
        "tap mode and the sink need brokers",
    )
    for broker in k.bootstrap:
        host, _, port = broker.rpartition(":")
        _check("kafka.bootstrap", broker, bool(host) and port.isdigit(), "expected HOST:PORT")
    version = k.api_version
    ok = version == "auto" or all(part.isdigit() for part in version.split("."))
    _check("kafka.api_version", version, ok, "must be auto or a dotted version such as 0.9 or 2.8.0")
    protocol = k.security_protocol
    _check("kafka.security_protocol", protocol, protocol in _PROTOCOLS, f"must be one of {list(_PROTOCOLS)}")
    mechanism = k.sasl_mechanism
    _check("kafka.sasl_mechanism", mechanism, mechanism in _MECHANISMS, f"must be one of {list(_MECHANISMS)}")
    if protocol.startswith("SASL"):
        _check("kafka.sasl_username", k.sasl_username, k.sasl_username is not None, f"needed with {protocol}")
        problem = (
            f"needed with {protocol}: set {_env_name('kafka.sasl_password')} or kafka.sasl_password_file"
        )
        _check("kafka.sasl_password", None, k.sasl_password is not None, problem)
    for key, path in (
        ("ssl_cafile", k.ssl_cafile),
        ("ssl_certfile", k.ssl_certfile),
        ("ssl_keyfile", k.ssl_keyfile),
    ):
        _check(f"kafka.{key}", str(path), path is None or path.exists(), "does not exist")
    for key, value in (
        ("kafka.sink.buffer_size", k.sink.buffer_size),
        ("kafka.sink.retry_backoff_seconds", k.sink.retry_backoff_seconds),
        ("kafka.tap.max_failures", k.tap.max_failures),
        ("kafka.tap.dedup_size", k.tap.dedup_size),
        ("kafka.tap.session_timeout_seconds", k.tap.session_timeout_seconds),
    ):
        _check(key, value, value > 0, "must be positive")
    _check("kafka.tap.topics", list(k.tap.topics), bool(k.tap.topics), "name at least one topic")
    looped = s.mode == "tap" and k.sink.enabled and k.sink.topic in k.tap.topics
    _check("kafka.sink.topic", k.sink.topic, not looped, "a tap must not publish to a topic it consumes")


def _check_url(key: str, url: str) -> None:
    parts = urlsplit(url)
    ok = parts.scheme in {"http", "https"} and bool(parts.hostname)
    _check(key, url, ok, "must be an http(s) URL with a host, e.g. http://127.0.0.1:8000")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(key, url, "has an invalid port") from exc


def _check(key: str, value: Any, ok: bool, problem: str) -> None:
    if not ok:
        raise ConfigError(key, value, problem)
