"""The model card's metrics on small hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.training.evaluate import calibration, unseen_auroc


def test_unseen_auroc_ranks_a_harmful_source_against_all_benign_prompts():
    """A harmful source's prompts are the positives; benign prompts from it and the slice, negatives."""
    benign = np.array([False, False, True, True, False])
    source = np.array([True, True, True, False, False])
    prob = np.array([0.9, 0.2, 0.5, 0.1, 0.0])  # the slice's harmful prompt (last) is not ranked
    assert unseen_auroc(benign, source, prob) == pytest.approx(0.75)


def test_unseen_auroc_ranks_a_benign_source_against_the_slices_harmful_prompts():
    """A benign-only source is the negative class; the slice's harmful prompts are the positives."""
    benign = np.array([True, True, False, False, True])
    source = np.array([True, True, False, False, False])
    prob = np.array([0.1, 0.3, 0.8, 0.2, 0.9])  # the slice's benign prompt (last) is not ranked
    assert unseen_auroc(benign, source, prob) == pytest.approx(0.75)


def test_calibration_of_perfectly_calibrated_bins_is_zero():
    """ECE is zero when each bin's mean probability equals its observed rate."""
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    prob = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert calibration(y, prob)["ece"] == pytest.approx(0.0)
