"""``safety-monitor score``: JSONL in, the same records with scores added out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import structlog
from tqdm import tqdm

from monitor.errors import MonitorError
from monitor.events import Scores
from monitor.scoring.scorer import Scorer

__all__ = ["InputLineError", "ScoreReport", "score_lines"]


class InputLineError(MonitorError):
    """A line of the input file is not a usable record; ``line`` says which."""

    reason = "invalid_input"

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {problem}")


@dataclass(slots=True)
class ScoreReport:
    """How many records were written and how many lines were skipped."""

    written: int = 0
    skipped: int = 0


def _records(lines: IO[str], report: ScoreReport, skip: bool, progress: tqdm) -> Iterator[dict[str, Any]]:
    log = structlog.get_logger("monitor.score")
    for number, line in enumerate(lines, start=1):
        progress.update(len(line.encode()))
        if not line.strip():
            continue
        try:
            yield _parse(number, line)
        except InputLineError as exc:
            if not skip:
                raise
            report.skipped += 1
            log.warning("input_line_skipped", line=exc.line, problem=str(exc))


def _parse(number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise InputLineError(number, f"not valid JSON ({exc.args[0]})") from exc
    if not isinstance(record, dict):
        raise InputLineError(number, "expected a JSON object")
    for key in ("prompt", "response"):
        if not isinstance(record.get(key), str):
            raise InputLineError(number, f'"{key}" must be a string')
    return record


def _fields(scores: Scores) -> dict[str, Any]:
    return {
        "refusal": scores.refusal,
        "refusal_prob": round(scores.refusal_prob, 4),
        "toxicity": round(scores.toxicity, 4),
        "toxic": scores.toxic,
        "category": scores.category,
        "category_prob": round(scores.category_prob, 4),
        "harmful_prob": round(scores.harmful_prob, 4),
        "incoherent": scores.incoherent,
        "incoherence_reasons": list(scores.incoherence_reasons),
        "uncertain": scores.uncertain,
    }


def score_lines(
    lines: IO[str],
    out: IO[str],
    scorer: Scorer,
    on_error: str = "fail",
    total_bytes: int | None = None,
    batch_size: int = 256,
) -> ScoreReport:
    """Score every record of ``lines`` into ``out``; raises :class:`InputLineError` unless skipping."""
    report = ScoreReport()
    progress = tqdm(total=total_bytes, unit="B", unit_scale=True, disable=total_bytes is None, leave=False)
    batch: list[dict[str, Any]] = []
    for record in _records(lines, report, on_error == "skip", progress):
        batch.append(record)
        if len(batch) >= batch_size:
            _flush(batch, out, scorer, report)
    _flush(batch, out, scorer, report)
    progress.close()
    return report


def _flush(batch: list[dict[str, Any]], out: IO[str], scorer: Scorer, report: ScoreReport) -> None:
    if not batch:
        return
    scores = scorer.score([r["prompt"] for r in batch], [r["response"] for r in batch])
    for record, score in zip(batch, scores, strict=True):
        out.write(json.dumps(record | _fields(score), ensure_ascii=False) + "\n")
    report.written += len(batch)
    batch.clear()
