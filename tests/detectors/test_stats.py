"""Wilson intervals, batch tests and severity against independent references (scipy)."""

from __future__ import annotations

import pytest
from scipy import stats

from detectors import fisher_exact, overall, severity, two_proportion_z, wilson
from detectors.baseline import BaselineFile


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (95, 100), (970, 1000), (1, 3)])
def test_wilson_matches_scipy(k, n):
    """Wilson bounds equal scipy's binomtest(...).proportion_ci(method='wilson')."""
    reference = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((reference.low, reference.high), abs=1e-9)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(950, 1000, 920, 1000), (30, 1000, 45, 1000), (90, 100, 70, 100)]
)
def test_z_test_matches_reference(x1, n1, x2, n2):
    """The pooled z statistic and one-sided p-values match a scipy computation."""
    pooled = (x1 + x2) / (n1 + n2)
    z = (x2 / n2 - x1 / n1) / (pooled * (1 - pooled) * (1 / n1 + 1 / n2)) ** 0.5
    down, up = two_proportion_z(x1, n1, x2, n2, "down"), two_proportion_z(x1, n1, x2, n2, "up")
    assert down.statistic == pytest.approx(z)
    assert down.p_value == pytest.approx(stats.norm.cdf(z))
    assert up.p_value == pytest.approx(stats.norm.sf(z))


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(95, 100, 85, 100), (9, 10, 3, 10), (50, 60, 55, 60)])
def test_fisher_matches_scipy(x1, n1, x2, n2):
    """One-sided Fisher p-values match scipy.stats.fisher_exact."""
    table = [[x2, n2 - x2], [x1, n1 - x1]]
    assert fisher_exact(x1, n1, x2, n2, "down").p_value == pytest.approx(
        stats.fisher_exact(table, alternative="less").pvalue
    )
    assert fisher_exact(x1, n1, x2, n2, "up").p_value == pytest.approx(
        stats.fisher_exact(table, alternative="greater").pvalue
    )


@pytest.mark.parametrize(
    ("baseline", "estimate", "direction", "expected"),
    [
        (0.95, 0.92, "down", "ok"),
        (0.95, 0.88, "down", "warning"),
        (0.95, 0.75, "down", "high"),
        (0.95, 0.60, "down", "critical"),
        (0.10, 0.112, "up", "warning"),
        (0.10, 0.125, "up", "high"),
        (0.10, 0.14, "up", "critical"),
        (0.10, 0.09, "up", "ok"),
    ],
)
def test_severity_bands(baseline, estimate, direction, expected):
    """Relative change maps to the framework's bands (5/15/30 %)."""
    assert severity(baseline, estimate, direction) == expected


def test_single_category_over_half_is_critical():
    """One category more than 50 % below its baseline makes the whole model critical."""
    assert overall([(0.1, "warning"), (0.51, "critical")]) == "critical"
    assert overall([(0.1, "warning"), (0.2, "high")]) == "high"


def test_baseline_file_round_trip_and_errors():
    """Baseline files round-trip and bad entries are named."""
    data = {
        "format": 1,
        "baselines": [
            {
                "model": "*",
                "category": "privacy",
                "signal": "refusal",
                "rate": 0.9,
                "n": 400,
                "source": "gate",
            }
        ],
    }
    parsed = BaselineFile.from_dict(data)
    assert parsed.get("any-model", "privacy", "refusal").rate == 0.9
    assert BaselineFile.from_dict(parsed.to_dict()).to_dict() == parsed.to_dict()
    with pytest.raises(ValueError, match=r"baselines\[0\]"):
        BaselineFile.from_dict({"format": 1, "baselines": [{"model": "m"}]})
