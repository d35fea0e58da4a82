"""``safety-monitor train --only``: one section is rebuilt, the other models and sections stay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from components import require

from monitor.scoring.scorer import MODEL_DIR
from monitor.training.train import train

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_unknown_task_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        train(DATA, tmp_path, only={"refusals"})


def test_only_rules_keeps_every_model_and_other_section(tmp_path):
    require("../shared/data", DATA.is_dir(), "the shared data folder beside the repository")
    shutil.copytree(MODEL_DIR, tmp_path, dirs_exist_ok=True)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.onnx")}
    card = train(DATA, tmp_path, only={"incoherence"}, log=lambda _: None)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.onnx")} == before
    committed = json.loads((MODEL_DIR / "model_card.json").read_text())
    for key in ("refusal", "toxicity", "harm_category", "examples"):
        assert card[key] == committed[key]
    assert "## Refusal" in (tmp_path / "model_card.md").read_text()
