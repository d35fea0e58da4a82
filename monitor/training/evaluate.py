"""Metrics for the model card: accuracy, F1, AUROC, macro-F1, and calibration (ECE, reliability)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

__all__ = ["binary_metrics", "calibration", "macro_f1", "rate_correction", "unseen_auroc"]


def binary_metrics(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Accuracy and F1 at 0.5, AUROC when both classes occur, and the count."""
    predicted = (prob >= 0.5).astype(int)  # noqa: PLR2004
    out = {
        "n": len(y),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
    }
    if len(set(y.tolist())) == 2:  # noqa: PLR2004
        out["auroc"] = float(roc_auc_score(y, prob))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def macro_f1(y: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-averaged F1 over the classes present in ``y``."""
    return round(float(f1_score(y, predicted, average="macro", labels=np.unique(y))), 4)


def calibration(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width bins, and the reliability table."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        confidence, accuracy = float(prob[mask].mean()), float(y[mask].mean())
        ece += mask.mean() * abs(confidence - accuracy)
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": int(mask.sum()),
                "mean_prob": round(confidence, 4),
                "observed": round(accuracy, 4),
            }
        )
    return {"ece": round(float(ece), 4), "reliability": table}


def unseen_auroc(benign: np.ndarray, source: np.ndarray, harmful_prob: np.ndarray) -> float:
    """AUROC of a held-out source against the other class, over prompts its model never saw.

    ``source`` marks the held-out source; the other rows are a slice no model was trained on. A
    source with harmful prompts is ranked against every benign prompt (its own and the slice's); a
    benign-only source against the slice's harmful prompts.
    """
    own_harmful = source & ~benign
    if own_harmful.any():
        positive, negative = own_harmful, benign
    else:
        positive, negative = ~source & ~benign, source & benign
    keep = positive | negative
    return binary_metrics(positive[keep].astype(int), harmful_prob[keep])["auroc"]


def rate_correction(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Mean held-out probability given each true label: the soft Rogan-Gladen correction's inputs.

    A stream's mean probability ``m`` then estimates the human rate as ``(m - lo) / (hi - lo)``
    (Rogan & Gladen 1978, with probabilities in place of hard sensitivity and specificity).
    """
    return {
        "mean_prob_given_positive": round(float(prob[y == 1].mean()), 4),
        "mean_prob_given_negative": round(float(prob[y == 0].mean()), 4),
        "n_positive": int((y == 1).sum()),
        "n_negative": int((y == 0).sum()),
    }
