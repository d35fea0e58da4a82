"""`safety-monitor score`: records in, records with scores out; bad lines named by number."""

from __future__ import annotations

import json
import subprocess
import sys

GOOD = json.dumps({"prompt": "Write a poem about rain.", "response": "Soft rain on the roof.", "id": 7})


def run(*args: str, stdin: str = ""):
    return subprocess.run(
        [sys.executable, "-m", "monitor", "score", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_scores_are_added_and_other_fields_kept():
    """Each record gains the score fields and keeps its own."""
    result = run(stdin=GOOD + "\n" + GOOD + "\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2
    assert records[0]["id"] == 7
    expected = {
        "refusal",
        "refusal_prob",
        "toxicity",
        "toxic",
        "category",
        "category_prob",
        "harmful_prob",
        "incoherent",
        "incoherence_reasons",
        "uncertain",
    }
    assert expected <= records[0].keys()


def test_malformed_line_fails_with_its_number():
    """By default a malformed line stops scoring with its line number."""
    result = run(stdin=GOOD + "\n{not json\n")
    assert result.returncode == 1
    assert "line 2: not valid JSON" in result.stderr


def test_skip_goes_on_and_counts(tmp_path):
    """--on-error skip scores the good lines from a file and reports how many were skipped."""
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(f'{GOOD}\n{{"prompt": 3, "response": "x"}}\n[]\n{GOOD}\n')
    result = run(str(source), "-o", str(target), "--on-error", "skip")
    assert result.returncode == 0, result.stderr
    assert len(target.read_text().splitlines()) == 2
    assert "skipped 2 lines" in result.stderr
