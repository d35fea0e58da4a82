"""The embedded default sink: a rotated, size-capped JSONL log of samples.

Without ``capture_text`` a record holds lengths and SHA-256 digests instead of text, so the log can
still join with other logs (by request id or digest) but never holds user content. Scores
(``category_probs`` included), the canary fields and the dedup key are kept, so ``safety-monitor
replay`` reproduces the detectors' alarms from a text-free log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from monitor.errors import SinkError
from monitor.events import Sample
from monitor.signals import dedup_key

__all__ = ["JsonlSink", "sample_record"]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def sample_record(sample: Sample, capture_text: bool) -> dict[str, Any]:
    """The JSON-ready record of a sample; text only when ``capture_text``."""
    record = asdict(sample)
    prompt = record.pop("prompt")
    record["prompt_chars"] = len(prompt)
    record["prompt_sha256"] = _digest(prompt)
    for choice in record["choices"]:
        text = choice.pop("text")
        choice["chars"] = len(text)
        choice["sha256"] = _digest(text)
        choice["tool_calls"] = len(choice["tool_calls"])
        if capture_text:
            choice["text"] = text
    if capture_text:
        record["prompt"] = prompt
    # The key the bank weighed bursts by, so a replay of a text-free log reproduces the weights.
    record["dedup_key"] = dedup_key(sample)
    return record


class JsonlSink:
    """Append samples as JSON lines to ``path``; rotate to ``path.1`` … ``path.<backups>`` at ``max_bytes``.

    Parameters
    ----------
    path
        The live file.
    max_bytes
        Size at which the file is rotated; the total on disk stays under ``max_bytes * (backups + 1)``.
    backups
        Rotated files kept.
    capture_text
        Write prompt and completion text (off by default: privacy).

    """

    def __init__(self, path: Path, max_bytes: int, backups: int, capture_text: bool = False) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.capture_text = capture_text
        self._file: IO[bytes] | None = None
        self._size = 0

    def write(self, samples: Sequence[Sample]) -> None:
        """Append the batch, rotating first whenever the next line would pass ``max_bytes``."""
        try:
            for sample in samples:
                line = (
                    json.dumps(sample_record(sample, self.capture_text), ensure_ascii=False).encode() + b"\n"
                )
                self._append(line)
            if self._file is not None:
                self._file.flush()
        except OSError as exc:
            msg = f"cannot write {self.path}: {exc.strerror}"
            raise SinkError(msg) from exc

    def _append(self, line: bytes) -> None:
        if self._file is None:
            self._file = self.path.open("ab")
            self._size = self._file.tell()
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        assert self._file is not None  # noqa: S101 - _rotate reopens it
        self._file.write(line)
        self._size += len(line)

    def _rotate(self) -> None:
        assert self._file is not None  # noqa: S101 - only called with an open file
        self._file.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("ab")
        self._size = 0

    def close(self) -> None:
        """Flush and close the live file; a failed last flush raises :class:`SinkError`."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            file.close()
        except OSError as exc:
            msg = f"closing the sample log failed: {exc.strerror}"
            raise SinkError(msg) from exc
