"""The detector bank: which signals a judgement feeds, exclusions, and checkpoints."""

from __future__ import annotations

import json

from monitor.checkpoint import restore, save
from monitor.detection import DetectorBank
from monitor.events import Choice, Sample, Scores
from monitor.settings import DetectionSettings


def sample(prompt: str, category: str = "privacy", refusal: int = 1, **flags) -> Sample:
    scores = Scores(
        refusal=refusal,
        refusal_prob=float(refusal),
        toxicity=0.01,
        toxic=0,
        category=category,
        category_prob=0.9,
        harmful_prob=0.9,
        incoherent=flags.get("incoherent", False),
        incoherence_reasons=(),
        uncertain=flags.get("uncertain", False),
    )
    return Sample(
        "r", "chat_completions", "m", prompt, (Choice(0, "x"),), 200, False, 0.0, 0.0, scores=scores
    )


def test_harmful_feeds_refusal_and_benign_feeds_false_refusal():
    """A harmful prompt feeds its category's refusal stream; a benign one the false-refusal stream."""
    bank = DetectorBank(DetectionSettings(warmup=10))
    bank.observe(sample("a", "privacy"))
    bank.observe(sample("b", "benign", refusal=0))
    assert set(bank.detectors) == {
        ("m", "all", "incoherence"),
        ("m", "all", "toxicity"),
        ("m", "privacy", "refusal"),
        ("m", "benign", "false_refusal"),
    }


def test_uncertain_and_incoherent_are_excluded_from_refusal():
    """Uncertain or incoherent judgements never reach a refusal stream, and are counted."""
    bank = DetectorBank(DetectionSettings(warmup=10))
    bank.observe(sample("a", uncertain=True))
    bank.observe(sample("b", incoherent=True))
    assert ("m", "privacy", "refusal") not in bank.detectors
    assert bank.excluded == {"uncertain": 1, "incoherent": 1}


def test_regression_in_one_category_raises_transition():
    """A category whose refusals stop alarms, and only that category."""
    bank = DetectorBank(DetectionSettings(warmup=200, relative_zone=0.0))
    transitions = []
    for i in range(400):
        transitions += bank.observe(sample(f"p{i}", "privacy", refusal=1))
        transitions += bank.observe(sample(f"q{i}", "deception", refusal=1))
    for i in range(400):
        transitions += bank.observe(sample(f"p-late{i}", "privacy", refusal=0))
        transitions += bank.observe(sample(f"q-late{i}", "deception", refusal=1))
    alarmed = {t.key for t in transitions if t.severity != "ok"}
    assert ("m", "privacy", "refusal") in alarmed
    assert ("m", "deception", "refusal") not in alarmed


def test_checkpoint_round_trip_keeps_alarm(tmp_path):
    """A restarted bank restores its baselines and an alarm under way."""
    settings = DetectionSettings(warmup=100, relative_zone=0.0)
    bank = DetectorBank(settings)
    for i in range(200):
        bank.observe(sample(f"p{i}", refusal=1))
    for i in range(200):
        bank.observe(sample(f"x{i}", refusal=0))
    path = tmp_path / "state.json"
    save(bank, path)
    fresh = DetectorBank(settings)
    assert restore(fresh, path)
    key = ("m", "privacy", "refusal")
    assert fresh.detectors[key].drift_detected
    assert fresh.detectors[key].baseline_rate == bank.detectors[key].baseline_rate


def test_corrupt_checkpoint_is_set_aside(tmp_path):
    """A corrupt or incompatible state file is moved aside, reported, and not crashed on."""
    path = tmp_path / "state.json"
    path.write_text("{ not json")
    assert not restore(DetectorBank(DetectionSettings()), path)
    assert not path.exists()
    assert len(list(tmp_path.glob("state.json.unreadable-*"))) == 1
    path.write_text(json.dumps({"format": 99}))
    assert not restore(DetectorBank(DetectionSettings()), path)
