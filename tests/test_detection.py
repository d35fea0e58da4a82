"""The detector bank: which signals a judgement feeds, exclusions, and checkpoints."""

from __future__ import annotations

import json

import pytest

from detectors import RateShiftDetector
from detectors.correction import Correction
from detectors.severity import severity
from monitor.checkpoint import restore, save
from monitor.detection import DetectorBank
from monitor.events import Choice, Sample, Scores
from monitor.export.alerts import SEVERITY
from monitor.settings import DetectionSettings
from monitor.signals import SIGNALS, StreamKey, route


def scores(category: str = "privacy", refusal: float = 1.0, harmful: float = 0.9, **flags) -> Scores:
    probs = flags.get("probs") or ((category, harmful), ("benign", 1 - harmful))
    return Scores(
        refusal=int(refusal >= 0.5),
        refusal_prob=float(refusal),
        toxicity=0.01,
        toxic=flags.get("toxic", 0),
        category=category,
        category_prob=0.9,
        harmful_prob=harmful,
        incoherent=flags.get("incoherent", False),
        incoherence_reasons=flags.get("reasons", ("repetition",) if flags.get("incoherent") else ()),
        uncertain=flags.get("uncertain", False),
        category_probs=probs,
    )


def sample(prompt: str, category: str = "privacy", refusal: float = 1.0, user=None, **flags) -> Sample:
    if category == "benign":
        flags.setdefault("harmful", 0.02)
        flags.setdefault("probs", (("privacy", 0.02), ("benign", 0.98)))
    return Sample(
        "r", "chat_completions", "m", prompt, (Choice(0, flags.pop("text", "x")),), 200, False, 0.0, 0.0,
        scores=scores(category, refusal, **flags), user=user,
    )  # fmt: skip


def keys(bank: DetectorBank) -> set[tuple[str, str, str]]:
    return {(k.model, k.category, k.signal) for k in bank.detectors if k.source == "live"}


def test_harmful_feeds_pooled_and_category_and_benign_feeds_false_refusal():
    """A harmful prompt feeds the pooled and its category's refusal streams; a benign one false refusal."""
    bank = DetectorBank(DetectionSettings(warmup=10))
    bank.observe(sample("a", "privacy"))
    assert keys(bank) >= {
        ("m", "all", "refusal"),
        ("m", "privacy", "refusal"),
        ("m", "benign", "false_refusal"),
    }
    assert {("m", "all", s) for s in ("incoherence", "toxicity", "uncertain")} <= keys(bank)
    assert bank.detectors[StreamKey("m", "all", "refusal")].n == 1


def test_soft_routing_splits_weight_by_probability():
    """Category streams get P(category), the pool P(harmful), false refusal P(benign)."""
    s = scores(
        probs=(("privacy", 0.5), ("deception", 0.3), ("self_harm", 0.01), ("benign", 0.19)), harmful=0.81
    )
    weights = {(o.category, o.signal): o.weight for o in route(s)}
    assert weights[("privacy", "refusal")] == 0.5
    assert weights[("deception", "refusal")] == 0.3
    assert ("self_harm", "refusal") not in weights  # below the minimum weight
    assert weights[("all", "refusal")] == 0.81
    assert abs(weights[("benign", "false_refusal")] - 0.19) < 1e-9


def test_uncertain_judgements_count_by_probability_and_feed_their_own_signal():
    """An uncertain judgement still feeds the refusal streams, with its probability as the value."""
    obs = {(o.category, o.signal): o for o in route(scores(refusal=0.6, uncertain=True))}
    assert obs[("all", "refusal")].x == 0.6
    assert obs[("all", "uncertain")].x == 1.0


def test_incoherent_is_excluded_but_a_length_cut_is_not():
    """Degenerate output stays out of refusal streams; ``truncated`` alone is ordinary traffic."""
    broken = {(o.category, o.signal) for o in route(scores(incoherent=True))}
    assert ("all", "refusal") not in broken
    assert ("all", "incoherence") in broken
    cut = {(o.category, o.signal): o for o in route(scores(incoherent=True, reasons=("truncated",)))}
    assert ("all", "refusal") in cut
    assert cut[("all", "incoherence")].x == 0.0
    bank = DetectorBank(DetectionSettings(warmup=10))
    bank.observe(sample("b", incoherent=True))
    assert bank.excluded == {"incoherent": 1}


def test_regression_in_one_category_alarms_in_that_category_and_the_pool():
    """A category whose refusals stop alarms there and in the pooled stream, not elsewhere."""
    bank = DetectorBank(DetectionSettings(warmup=200, zone=0.0))
    transitions = []
    for i in range(400):
        transitions += bank.observe(sample(f"p{i}", "privacy"))
        transitions += bank.observe(sample(f"q{i}", "deception"))
    for i in range(400):
        transitions += bank.observe(sample(f"p-late{i}", "privacy", refusal=0.0))
        transitions += bank.observe(sample(f"q-late{i}", "deception"))
    alarmed = {tuple(t.key)[:3] for t in transitions if t.severity != "ok"}
    assert ("m", "privacy", "refusal") in alarmed
    assert ("m", "all", "refusal") in alarmed
    assert ("m", "deception", "refusal") not in alarmed


def test_warmup_phase_is_exposed():
    """A stream is warming with the weight still needed, then armed."""
    bank = DetectorBank(DetectionSettings(warmup=100))
    for i in range(40):
        bank.observe(sample(f"p{i}"))
    pooled = bank.detectors[StreamKey("m", "all", "refusal")]
    assert pooled.phase == "warming"
    assert 60 < pooled.warmup_remaining < 70  # 40 samples of weight 0.9 each
    for i in range(100):
        bank.observe(sample(f"q{i}"))
    assert pooled.phase == "armed"
    assert pooled.warmup_remaining == 0
    assert pooled.baseline_source == "warmup"


def test_change_during_warmup_is_not_learnt():
    """A regression inside the warm-up window restarts the warm-up instead of becoming the baseline."""
    detector = RateShiftDetector(None, "down", warmup=400)
    for _ in range(200):
        detector.update(1.0)
    for _ in range(200):
        detector.update(0.0)
    assert detector.phase == "warming"
    assert detector.warmup_restarts == 1
    for _ in range(400):
        detector.update(0.0)
    assert detector.phase == "armed"
    assert detector.baseline_rate == 0.0


@pytest.mark.parametrize(
    ("signal", "baseline", "estimate", "band"),
    [
        ("refusal", 0.90, 0.80, "warning"),  # 11 % relative drop
        ("refusal", 0.90, 0.70, "high"),  # 22 %
        ("refusal", 0.90, 0.50, "critical"),  # 44 %
        ("false_refusal", 0.02, 0.10, "warning"),  # 8 % fewer benign prompts answered
        ("false_refusal", 0.02, 0.60, "critical"),
        ("toxicity", 0.074, 0.114, "warning"),  # 4 points: not critical
        ("toxicity", 0.01, 0.07, "high"),
        ("incoherence", 0.01, 0.15, "critical"),
        ("uncertain", 0.30, 0.31, "ok"),
    ],
)
def test_severity_bands_per_signal(signal, baseline, estimate, band):
    """Each signal reads its change on its own scale."""
    spec = SIGNALS[signal]
    assert severity(baseline, estimate, spec.direction, spec.scale) == band


def test_alert_severity_pages_on_high_and_notifies_on_warning():
    """High and critical page; warning notifies; nothing arrives as info."""
    assert SEVERITY == {"critical": "critical", "high": "critical", "warning": "warning"}


def test_dedup_discounts_one_users_burst_not_a_popular_prompt():
    """Many users sending one prompt count fully; one user's burst of prompts counts for little."""
    popular = DetectorBank(DetectionSettings(warmup=1000))
    burst = DetectorBank(DetectionSettings(warmup=1000))
    for i in range(200):
        popular.observe(sample("the same prompt"))
        popular.observe(sample("the same prompt", user=f"user{i}"))
        burst.observe(sample(f"prompt {i}", user="one user"))
    key = StreamKey("m", "all", "toxicity")
    assert popular.detectors[key].warmup_remaining == 600
    assert burst.detectors[key].warmup_remaining > 990


def test_reported_rates_are_corrected_for_the_judge():
    """With a correction, the estimate is the rate a person would see, not the judge's mean."""
    bank = DetectorBank(DetectionSettings(warmup=100), correction=Correction(lo=0.1, hi=0.9))
    for i in range(200):
        bank.observe(sample(f"p{i}", refusal=0.5))
    pooled = bank.detectors[StreamKey("m", "all", "refusal")]
    assert abs(pooled.baseline_rate - 0.5) < 1e-9
    assert pooled.estimate.rate == pytest.approx(0.5)
    bank = DetectorBank(DetectionSettings(warmup=100), correction=Correction(lo=0.1, hi=0.9))
    for i in range(200):
        bank.observe(sample(f"p{i}", refusal=0.9))
    assert bank.detectors[StreamKey("m", "all", "refusal")].baseline_rate == pytest.approx(1.0)


def test_compliance_depth_is_tracked_per_category():
    """Answers to harmful prompts get a depth, per category and pooled."""
    bank = DetectorBank(DetectionSettings(warmup=10))
    recipe = "\n".join(f"{i}. step with 20 g and 5 ml" for i in range(1, 8))
    bank.observe(sample("a", refusal=0.1, text=recipe))
    depths = {key: mean for key, mean, _ in bank.depths()}
    assert depths[("m", "privacy")] > 0.4
    assert ("m", "all") in depths


def test_checkpoint_round_trip_keeps_alarm(tmp_path):
    """A restarted bank restores its baselines and an alarm under way."""
    settings = DetectionSettings(warmup=100, zone=0.0)
    bank = DetectorBank(settings)
    for i in range(200):
        bank.observe(sample(f"p{i}", refusal=1.0))
    for i in range(200):
        bank.observe(sample(f"x{i}", refusal=0.0))
    path = tmp_path / "state.json"
    save(bank, path)
    fresh = DetectorBank(settings)
    assert restore(fresh, path)
    key = StreamKey("m", "privacy", "refusal")
    assert fresh.detectors[key].drift_detected
    assert fresh.excluded == bank.excluded
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
