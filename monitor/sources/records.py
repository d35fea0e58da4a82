"""Inference-log records (and the sidecars' scored events) → Samples, for the Kafka tap.

A record's value is one JSON object, in one of three shapes:

* ``{model, prompt, response, timestamp}``, optionally ``user``, ``request_id``, ``finish_reason``;
* an OpenAI pair ``{request, response}``: the chat or completions request body and its (non-streamed)
  response body, optionally with ``model``, ``user``, ``request_id``, ``timestamp``;
* a scored event from a sidecar's sink (``schema: llm-safety-monitor/scored-event``), which carries
  its scores and is detected without re-scoring.

``timestamp`` is Unix seconds (the record's own timestamp when absent). Without ``request_id`` the
record's identity is the SHA-256 of its value, so a redelivered record is recognised either way.
Anything else raises a :class:`~monitor.errors.CaptureError` subclass.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, fields
from typing import Any

from monitor.errors import InvalidUtf8Error, NotJsonError, UnsupportedPayloadError
from monitor.events import Choice, Exchange, Sample, Scores
from monitor.sinks.kafka import EVENT_SCHEMA, EVENT_VERSION
from monitor.sources.completion import to_sample

__all__ = ["Record", "parse_record"]

_OPTIONAL_SCORES = frozenset({"judge"})  # added later: events from older sidecars lack it
_SCORE_FIELDS = tuple(f.name for f in fields(Scores) if f.name not in _OPTIONAL_SCORES)


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed record: its identity (for dedup) and its Sample (scored when it was an event)."""

    identity: str
    sample: Sample


def parse_record(value: bytes | None, timestamp_ms: int | None) -> Record:
    """Parse a record's value; raises a ``CaptureError`` subclass when it is malformed."""
    if value is None:
        raise UnsupportedPayloadError("record has no value")
    try:
        data = json.loads(value)
    except UnicodeDecodeError as exc:
        raise InvalidUtf8Error("record is not valid UTF-8") from exc
    except ValueError as exc:
        raise NotJsonError("record is not JSON") from exc
    if not isinstance(data, dict):
        raise UnsupportedPayloadError("record is not a JSON object")
    digest = hashlib.sha256(value).hexdigest()
    identity = str(data.get("request_id") or digest)
    # Kafka 0.9's records carry no timestamp: then the time it is read.
    received = timestamp_ms / 1000 if timestamp_ms is not None else time.time()
    started = _number(data.get("timestamp"), received)
    if data.get("schema") == EVENT_SCHEMA:
        return Record(identity, _from_event(data, identity, started))
    if "request" in data and "response" in data:
        return Record(identity, _from_pair(data, identity, started))
    return Record(identity, _from_flat(data, identity, started))


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        msg = f"record has no string {key!r}"
        raise UnsupportedPayloadError(msg)
    return value


def _user(data: dict[str, Any]) -> str | None:
    user = data.get("user")
    if not isinstance(user, str) or not user:
        return None
    return hashlib.blake2b(user.encode(), digest_size=8).hexdigest()


def _from_flat(data: dict[str, Any], identity: str, started: float) -> Sample:
    finish = data.get("finish_reason")
    choice = Choice(0, _text(data, "response"), finish if isinstance(finish, str) else None)
    return Sample(
        request_id=identity,
        route="chat_completions",
        model=_text(data, "model"),
        prompt=_text(data, "prompt"),
        choices=(choice,),
        status=200,
        streamed=False,
        started_at=started,
        duration_seconds=0.0,
        user=_user(data),
    )


def _from_pair(data: dict[str, Any], identity: str, started: float) -> Sample:
    request, response = data["request"], data["response"]
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise UnsupportedPayloadError("request and response must be objects")
    route = "chat_completions" if "messages" in request else "completions"
    model = data.get("model") or request.get("model") or response.get("model")
    if not isinstance(model, str):
        raise UnsupportedPayloadError("record names no model")
    if "user" in data:
        request = {**request, "user": data["user"]}
    exchange = Exchange(
        identity,
        route,
        model,
        json.dumps(request).encode(),
        200,
        "application/json",
        (json.dumps(response).encode(),),
        streamed=False,
        started_at=started,
        duration_seconds=0.0,
    )
    return to_sample(exchange)


def _from_event(data: dict[str, Any], identity: str, started: float) -> Sample:
    if data.get("version") != EVENT_VERSION:
        msg = f"scored event version {data.get('version')!r} is not {EVENT_VERSION}"
        raise UnsupportedPayloadError(msg)
    raw = data.get("scores")
    if not isinstance(raw, dict) or any(name not in raw for name in _SCORE_FIELDS):
        raise UnsupportedPayloadError("scored event has no complete scores")
    try:
        scores = Scores(
            **{
                **{name: raw[name] for name in _SCORE_FIELDS},
                "incoherence_reasons": tuple(raw["incoherence_reasons"]),
                "category_probs": tuple((str(c), float(p)) for c, p in raw["category_probs"]),
                "judge": str(raw.get("judge", "classifier")),
            }
        )
        choices = tuple(
            Choice(int(c["index"]), str(c.get("text", "")), c.get("finish_reason")) for c in data["choices"]
        )
        return Sample(
            request_id=identity,
            route=str(data["route"]),
            model=str(data["model"]),
            prompt=str(data.get("prompt", "")),
            choices=choices,
            status=int(data["status"]),
            streamed=bool(data["streamed"]),
            started_at=_number(data.get("started_at"), started),
            duration_seconds=float(data["duration_seconds"]),
            complete=bool(data.get("complete", True)),
            canary=data.get("canary"),
            scores=scores,
            user=data.get("user"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"scored event is missing or mistypes a field: {exc}"
        raise UnsupportedPayloadError(msg) from exc
