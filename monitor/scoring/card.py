"""What the sidecar reads from the model card: the refusal judge's held-out error, for corrections."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detectors.correction import Correction

__all__ = ["refusal_correction"]


def refusal_correction(model_dir: Path) -> Correction | None:
    """The soft Rogan-Gladen correction measured leave-one-model-out, or ``None`` if the card lacks it.

    Cards from ``safety-monitor train`` carry the two means (``rate_correction_lomo``). For an older
    card they are recovered from its leave-one-model-out reliability table, taking each bin's mean
    probability for both labels in that bin (an error of at most half a bin width, 0.05). A card that
    cannot be read leaves rates uncorrected rather than stopping the monitor: the detectors work on
    the judge's own scale either way.
    """
    try:
        card = json.loads((model_dir / "model_card.json").read_text(encoding="utf-8"))["refusal"]
        if "rate_correction_lomo" in card:
            return _measured(card["rate_correction_lomo"])
        return _from_reliability(card["calibration_lomo"]["reliability"])
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


def _measured(means: Mapping[str, Any]) -> Correction:
    return Correction(float(means["mean_prob_given_negative"]), float(means["mean_prob_given_positive"]))


def _from_reliability(bins: Sequence[Mapping[str, Any]]) -> Correction:
    positives = [(b["n"] * b["observed"], b["mean_prob"]) for b in bins]
    negatives = [(b["n"] * (1 - b["observed"]), b["mean_prob"]) for b in bins]
    hi = sum(w * p for w, p in positives) / sum(w for w, _ in positives)
    lo = sum(w * p for w, p in negatives) / sum(w for w, _ in negatives)
    return Correction(float(lo), float(hi))
