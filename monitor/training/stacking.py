"""The exponents of a blend of two calibrated models, fitted where neither model trained."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from monitor.scoring.scorer import blend

__all__ = ["fit_blend", "log_loss"]


def fit_blend(linear: np.ndarray, encoder: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    """Exponents ``(a, b)`` of ``linear**a * encoder**b`` minimising the log loss of ``codes``.

    Both arrays are ``(n, classes)`` probabilities of rows held out from both models: stacking and
    calibration at once, with two numbers to fit.
    """
    w = np.ones(len(codes))
    result = minimize(
        lambda ab: log_loss(blend(linear, encoder, (ab[0], ab[1])), codes, w), [0.5, 0.5], bounds=[(0, 3)] * 2
    )
    return float(result.x[0]), float(result.x[1])


def log_loss(prob: np.ndarray, codes: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean negative log-likelihood of the true classes."""
    return float(-np.average(np.log(np.maximum(prob[np.arange(len(codes)), codes], 1e-12)), weights=w))
