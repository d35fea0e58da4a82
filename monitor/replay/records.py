"""JSONL records → Samples: the sidecar's own sample log, or any ``{prompt, response, model, timestamp}``.

A record of the sample log keeps its scores (``category_probs`` included), its ``dedup_key`` and its
canary fields, so a text-free log replays exactly as ``serve`` judged it. A record without scores
needs its text (``prompt`` and ``response``, or the log's ``choices[0].text`` under
``capture_text``); it is scored with the shipped classifiers. Records are replayed in the order the
sidecar judged them: by when each exchange ended (``started_at + duration_seconds``), ties in file
order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

from monitor.errors import MonitorError
from monitor.events import Choice, Sample, Scores
from monitor.scoring.scorer import Scorer

__all__ = ["RecordError", "Records", "read_records", "score_missing", "to_sample"]

_SCORE_FIELDS = ("refusal", "refusal_prob", "toxicity", "toxic", "category", "category_prob", "harmful_prob",
                 "incoherent", "incoherence_reasons", "uncertain")  # fmt: skip


class RecordError(MonitorError):
    """A line of the replayed log is not a usable record; the message names the line."""

    reason = "invalid_input"


@dataclass(slots=True)
class Records:
    """What was read: samples (some unscored), and how many lines were unusable or unscorable."""

    samples: list[Sample] = field(default_factory=list)
    texts: list[tuple[str, str] | None] = field(default_factory=list)  # (prompt, response) when known
    skipped: int = 0
    unscorable: int = 0


def _time(value: Any, line: int) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        except ValueError:
            pass
    msg = f"line {line}: timestamp {value!r} is neither epoch seconds nor ISO 8601"
    raise RecordError(msg)


def _scores(record: dict[str, Any]) -> Scores | None:
    raw = record.get("scores")
    if not isinstance(raw, dict):
        raw = record if "refusal_prob" in record else None  # `safety-monitor score` output
    if raw is None:
        return None
    probs = tuple((str(name), float(p)) for name, p in raw.get("category_probs") or ())
    values = {name: raw[name] for name in _SCORE_FIELDS}
    values["incoherence_reasons"] = tuple(values["incoherence_reasons"])
    return Scores(**values, category_probs=probs, judge=str(raw.get("judge", "classifier")))


def _text(record: dict[str, Any]) -> tuple[str, str] | None:
    choices = record.get("choices") or [{}]
    response = record.get("response", choices[0].get("text"))
    prompt = record.get("prompt")
    if isinstance(prompt, str) and isinstance(response, str):
        return prompt, response
    return None


def to_sample(record: dict[str, Any], line: int) -> tuple[Sample, tuple[str, str] | None]:
    """One record as the Sample ``serve`` judged (or would judge), and its text when known."""
    when = record.get("started_at", record.get("timestamp"))
    if when is None:
        msg = f"line {line}: no started_at or timestamp"
        raise RecordError(msg)
    try:
        scores = _scores(record)
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"line {line}: scores are incomplete ({exc})"
        raise RecordError(msg) from exc
    text = _text(record)
    choices = record.get("choices") or [{"finish_reason": record.get("finish_reason")}]
    finish = choices[0].get("finish_reason") if isinstance(choices[0], dict) else None
    sample = Sample(
        request_id=str(record.get("request_id", line)),
        route=str(record.get("route", "chat_completions")),
        model=str(record.get("model") or "unknown"),
        prompt=text[0] if text else "",
        choices=(Choice(0, text[1] if text else "", finish),),
        status=int(record.get("status", 200)),
        streamed=bool(record.get("streamed", False)),
        started_at=_time(when, line),
        duration_seconds=float(record.get("duration_seconds") or 0.0),
        canary=record.get("canary"),
        scores=scores,
        user=record.get("dedup_key", record.get("user")),  # the key serve weighed bursts by
        canary_category=record.get("canary_category"),
        canary_harmful=record.get("canary_harmful"),
    )
    return sample, text


def _parse(line: str, number: int) -> tuple[Sample, tuple[str, str] | None]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        msg = f"line {number}: not valid JSON ({exc})"
        raise RecordError(msg) from exc
    if not isinstance(record, dict):
        msg = f"line {number}: expected a JSON object"
        raise RecordError(msg)
    return to_sample(record, number)


def read_records(lines: IO[str] | Iterable[str], skip_bad: bool = False) -> Records:
    """Read every record, in judging order; raises :class:`RecordError` on a bad line unless skipping."""
    out = Records()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            sample, text = _parse(line, number)
        except (ValueError, RecordError) as exc:
            if not skip_bad:
                raise RecordError(str(exc)) from exc
            out.skipped += 1
            continue
        out.samples.append(sample)
        out.texts.append(text)
    ended = [s.started_at + s.duration_seconds for s in out.samples]
    order = sorted(range(len(ended)), key=ended.__getitem__)  # stable: ties keep file order
    out.samples = [out.samples[i] for i in order]
    out.texts = [out.texts[i] for i in order]
    return out


def score_missing(records: Records, scorer: Scorer, progress: Any = None, batch_size: int = 256) -> None:
    """Score, in place, every sample without scores that has its text; count those without text."""
    todo = [(i, text) for i, (s, text) in enumerate(zip(records.samples, records.texts, strict=True))
            if s.scores is None and text is not None]  # fmt: skip
    records.unscorable = sum(s.scores is None for s in records.samples) - len(todo)
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        prompts, responses = [t[0] for _, t in chunk], [t[1] for _, t in chunk]
        finish = [records.samples[i].choices[0].finish_reason for i, _ in chunk]
        for (i, _), scores in zip(chunk, scorer.score(prompts, responses, finish), strict=True):
            records.samples[i] = replace(records.samples[i], scores=scores)
        if progress is not None:
            progress.update(len(chunk))
