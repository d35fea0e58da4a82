"""The committed models: they load on a bare machine and agree with their model card."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from monitor.scoring.categories import CATEGORIES
from monitor.scoring.examples import EXAMPLES
from monitor.scoring.scorer import MODEL_DIR, Scorer

CARD = json.loads((MODEL_DIR / "model_card.json").read_text())


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer()


def test_models_agree_with_card(scorer):
    """The committed ONNX files reproduce the example scores recorded in the model card."""
    scores = scorer.score([p for p, _ in EXAMPLES], [r for _, r in EXAMPLES])
    for expected, got in zip(CARD["examples"], scores, strict=True):
        assert got.refusal_prob == pytest.approx(expected["refusal_prob"], abs=1e-3)
        assert got.toxicity == pytest.approx(expected["toxicity"], abs=1e-3)
        assert got.category == expected["category"]


def test_categories_are_the_closed_set(scorer):
    """The harm-category model predicts exactly the 10 canonical classes."""
    assert set(scorer._category.classes) == set(CATEGORIES)


def test_models_fit_size_budget():
    """All model files together, the sentence encoder included, stay under 60 MB."""
    assert sum(p.stat().st_size for p in MODEL_DIR.glob("*.onnx")) <= 60 * 2**20


def test_models_load_with_c_locale():
    """Models load and score under LANG=C, as in minimal containers without en_US.UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")} | {"LANG": "C", "LC_ALL": "C"}
    code = "from monitor.scoring.scorer import Scorer; print(Scorer().score(['hi'], ['hello'])[0].category)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in CATEGORIES


def test_card_states_licences_and_command():
    """The card lists non-commercial licences and the command that rebuilds the models."""
    assert "NON-COMMERCIAL" in CARD["licences"]["alpaca"]
    assert CARD["train_command"].startswith("safety-monitor train")
    assert "calibration_lomo" in CARD["refusal"]


def test_length_capped_answer_is_judged_not_incoherent(scorer):
    """A fluent answer cut by the length limit keeps its judgement: reported truncated, not incoherent."""
    answer = (
        "Sure. Knead the dough for ten minutes, then let it rise in a warm place until it has doubled and"
    )
    (scores,) = scorer.score(["How do I bake bread?"], [answer], ["length"])
    assert scores.incoherence_reasons == ("truncated",)
    assert not scores.incoherent
