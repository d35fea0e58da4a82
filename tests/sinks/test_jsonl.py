"""The JSONL sample log: privacy by default, rotation, size cap."""

from __future__ import annotations

import json

from monitor.events import Choice, Sample
from monitor.sinks.jsonl import JsonlSink

SECRET = "my secret prompt"


def sample(i: int = 0) -> Sample:
    return Sample(
        f"r{i}", "chat_completions", "m", SECRET, (Choice(0, "an answer", "stop"),), 200, False, 0.0, 0.1
    )


def test_no_text_without_capture_text(tmp_path):
    """Without capture_text only lengths and digests are written."""
    sink = JsonlSink(tmp_path / "s.jsonl", 1 << 20, 1)
    sink.write([sample()])
    sink.close()
    raw = (tmp_path / "s.jsonl").read_text()
    assert SECRET not in raw
    assert "an answer" not in raw
    record = json.loads(raw)
    assert record["prompt_chars"] == len(SECRET)
    assert len(record["prompt_sha256"]) == 64


def test_text_with_capture_text(tmp_path):
    """With capture_text the prompt and completion are kept."""
    sink = JsonlSink(tmp_path / "s.jsonl", 1 << 20, 1, capture_text=True)
    sink.write([sample()])
    sink.close()
    record = json.loads((tmp_path / "s.jsonl").read_text())
    assert record["prompt"] == SECRET
    assert record["choices"][0]["text"] == "an answer"


def test_rotation_caps_disk_use(tmp_path):
    """Files rotate at max_bytes and only `backups` old files are kept."""
    path = tmp_path / "s.jsonl"
    sink = JsonlSink(path, 2000, 2)
    for i in range(100):
        sink.write([sample(i)])
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["s.jsonl", "s.jsonl.1", "s.jsonl.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["request_id"] == "r99"
