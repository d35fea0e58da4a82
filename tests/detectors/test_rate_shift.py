"""The rate-shift detector on seeded streams: golden detection, calibrated false alarms, state."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from detectors import Baseline, DuplicateWeigher, RateShiftDetector, from_state, rate_detector
from detectors.calibration import arl_per_days, threshold


def run(detector, xs) -> int | None:
    for i, x in enumerate(xs):
        detector.update(float(x))
        if detector.drift_detected:
            return i
    return None


def stream(seed: int, p0: float, p1: float, change: int, length: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(change) < p0, rng.random(length - change) < p1])


@pytest.mark.parametrize(
    ("p0", "p1", "direction", "golden", "start"),
    [
        (0.95, 0.85, "down", 5271, 5021),
        (0.95, 0.60, "down", 5023, 5002),
        (0.03, 0.10, "up", 5209, 5119),
        (0.80, 0.65, "down", 5385, 5254),
    ],
)
def test_golden_detection_index(p0, p1, direction, golden, start):
    """On a fixed seeded stream with a change at 5000, alarm and change-start estimate are known."""
    detector = RateShiftDetector(p0, direction)
    assert run(detector, stream(42, p0, p1, 5000, 20_000)) == golden
    assert detector.change_start == start


@pytest.mark.parametrize("p0", [0.95, 0.80, 0.5])
def test_no_alarm_on_stationary_streams(p0):
    """Seeded stationary streams of 300k observations raise no alarm (budget 1e6)."""
    assert run(RateShiftDetector(p0, "down"), stream(7, p0, p0, 0, 300_000)) is None


def test_false_alarm_rate_meets_budget():
    """With ARL0 = 500 the mean run length to a false alarm is at least 500 (Lorden/SR bound).

    400 independent runs give a standard error of about 5% of the mean run length (run lengths are
    roughly geometric), so the check allows 3 standard errors.
    """
    rng = random.Random(3)
    lengths = []
    for _ in range(400):
        detector, n = RateShiftDetector(0.9, "down", arl0=500), 0
        while not detector.drift_detected:
            detector.update(float(rng.random() < 0.9))
            n += 1
        lengths.append(n)
    mean = sum(lengths) / len(lengths)
    assert mean >= 500 * (1 - 3 / math.sqrt(len(lengths)))


def test_budget_shared_across_many_streams():
    """A bank of 40 streams with ARL0 = 2000 raises at most N_total / 2000 false alarms (with slack)."""
    rng = np.random.default_rng(11)
    alarms, total = 0, 0
    for stream_id in range(40):
        p0 = [0.95, 0.8, 0.6, 0.3][stream_id % 4]
        detector = RateShiftDetector(p0, "down", arl0=2000)
        xs = rng.random(20_000) < p0
        for x in xs:
            detector.update(float(x))
            if detector.drift_detected:
                alarms += 1
                detector._reset()
        total += len(xs)
    expected_bound = total / 2000
    assert alarms <= expected_bound + 3 * math.sqrt(expected_bound)


def test_indifference_zone_ignores_wobble():
    """A ±2-point daily wobble inside a 3-point zone raises nothing over 300k observations."""
    rng = np.random.default_rng(5)
    t = np.arange(300_000)
    xs = rng.random(t.size) < 0.95 + 0.02 * np.sin(2 * np.pi * t / 20_000)
    assert run(RateShiftDetector(0.95, "down", zone=0.03), xs) is None


def test_zone_still_detects_real_drop():
    """A drop well past the zone is still caught."""
    detector = RateShiftDetector(0.95, "down", zone=0.03)
    xs = stream(9, 0.95, 0.80, 3000, 20_000)
    assert run(detector, xs) is not None
    for x in xs:
        detector.update(float(x))
    assert detector.drift_detected
    assert abs(detector.estimate.rate - 0.80) < 0.02
    assert detector.severity == "high"


def test_warmup_baseline_and_guard():
    """A learnt baseline needs `warmup` observations and is moved toward the bad side by its error."""
    detector = RateShiftDetector(None, "down", warmup=2000)
    assert run(detector, stream(1, 0.9, 0.9, 2000, 2000)) is None
    assert detector.warmed_up
    assert abs(detector.baseline_rate - 0.9) < 0.03
    assert RateShiftDetector(Baseline(0.9, 2000, "file"), "down")._q0 > 0.1


def test_recovery_clears_alarm():
    """After the rate returns to baseline the alarm resolves."""
    rng = np.random.default_rng(2)
    detector = RateShiftDetector(0.95, "down")
    xs = np.concatenate([rng.random(2000) < 0.95, rng.random(3000) < 0.7, rng.random(20_000) < 0.95])
    states = []
    for x in xs:
        detector.update(float(x))
        states.append(detector.drift_detected)
    assert any(states[2000:5000])
    assert not states[-1]


def test_alarm_carries_estimate_interval_and_start():
    """An alarm reports the post-change estimate with a Wilson interval and when it began."""
    detector = RateShiftDetector(0.95, "down")
    xs = stream(4, 0.95, 0.6, 4000, 10_000)
    run(detector, xs)
    first = detector.severity
    for x in xs[detector.n :]:
        detector.update(float(x))
    estimate = detector.estimate
    assert estimate.low <= estimate.rate <= estimate.high
    assert abs(estimate.rate - 0.6) < 0.03
    assert first in {"warning", "high", "critical"}
    assert detector.severity == "critical"
    assert 3900 <= detector.change_start <= 4010


def test_state_survives_json_round_trip_mid_alarm():
    """A detector restored from JSON state is still in alarm and continues identically."""
    detector = RateShiftDetector(0.95, "down")
    run(detector, stream(4, 0.95, 0.6, 4000, 10_000))
    restored = from_state(json.loads(json.dumps(detector.state_dict())))
    assert restored.drift_detected
    assert restored.change_start == detector.change_start
    for x in stream(5, 0.6, 0.6, 0, 1000):
        detector.update(float(x))
        restored.update(float(x))
    assert restored.state_dict() == detector.state_dict()


def test_incompatible_state_is_refused():
    """A state of another kind or version raises ValueError."""
    state = RateShiftDetector(0.9).state_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        RateShiftDetector.from_state(state)
    with pytest.raises(ValueError, match="unknown detector kind"):
        from_state({"kind": "nope"})


def test_bounded_signal_toxicity():
    """Bounded real values (toxicity scores) rising past the baseline are detected."""
    rng = np.random.default_rng(8)
    xs = np.concatenate([rng.beta(1, 30, 5000), rng.beta(2, 10, 5000)])
    detector = RateShiftDetector(1 / 31, "up")
    assert run(detector, xs) > 5000


def test_duplicate_weighting_tames_correlated_burst():
    """A run of 100 identical-key failures counts for little once down-weighted."""
    weigher = DuplicateWeigher()
    weighted, plain = RateShiftDetector(0.95, "down"), RateShiftDetector(0.95, "down")
    for _ in range(100):
        weighted.update(0.0, weigher.weight("same-user"))
        plain.update(0.0)
    assert plain.drift_detected
    assert not weighted.drift_detected


def test_factory_builds_each_method():
    """rate_detector builds every method with the service's defaults."""
    assert isinstance(rate_detector(0.9, "up", zone=0.02), RateShiftDetector)
    assert rate_detector(Baseline(0.9, 100, "f"), method="adwin").baseline == 0.9
    with pytest.raises(ValueError, match="method"):
        rate_detector(method="magic")


def test_budget_helpers():
    """Budget helpers turn user terms into ARL0 and thresholds."""
    assert arl_per_days(1, 1, 1, 1) == 86_400
    assert threshold(1e6, 1) == pytest.approx(math.log(1e6))
