"""Calibrated logistic regression over hashed features, folded into plain weights for ONNX."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from monitor.scoring.features import DIMS

__all__ = ["LinearModel", "fit", "matrix"]


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights ``(DIMS + 1, classes)`` (last row zero, for padding) and bias ``(classes,)``.

    An encoder head has one row per embedding dimension (plus the same zero row).

    Binary models have one column and are read through a sigmoid; multi-class through a softmax.
    """

    weights: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]

    def predict_proba(self, x: csr_matrix | np.ndarray) -> np.ndarray:
        """Probabilities, computed the way the ONNX graph computes them.

        ``x`` is hashed buckets (``DIMS`` columns) or, for an encoder head, embeddings.
        """
        logits: np.ndarray = x @ self.weights[: x.shape[1]] + self.bias
        if logits.shape[1] == 1:
            sigmoid: np.ndarray = 1 / (1 + np.exp(-logits[:, 0]))
            return sigmoid
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        softmax: np.ndarray = z / z.sum(axis=1, keepdims=True)
        return softmax


def matrix(ids: Sequence[np.ndarray]) -> csr_matrix:
    """Rows of feature counts scaled by 1/sqrt(number of features), as the ONNX graph scales them."""
    lengths = np.fromiter((len(v) for v in ids), np.int64, len(ids))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate(ids) if len(ids) else np.zeros(0, np.int64)
    data = np.repeat(1 / np.sqrt(np.maximum(lengths, 1)), lengths)
    return csr_matrix((data, indices, indptr), shape=(len(ids), DIMS))


def fit(
    x: csr_matrix | np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    c: float,
    seed: int = 0,
    calibrate: bool = True,
    sample_weight: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    tol: float = 1e-3,
) -> LinearModel:
    """Fit, then calibrate on grouped out-of-fold logits (Platt for binary, temperature otherwise).

    Without ``calibrate`` the raw fit is returned: enough where only ranks or the argmax count
    (AUROC, macro-F1), and four times cheaper. ``sample_weight`` weighs records in the fit and in
    the calibration alike. ``prior`` ``(DIMS, d)`` gives buckets dense vectors
    (:mod:`monitor.training.word_vectors`): the fit also sees ``x @ prior``, and its weights on
    those columns fold back into the buckets', so the exported graph is unchanged. ``tol`` is the
    solver's stopping tolerance.
    """
    classes = tuple(str(v) for v in np.unique(y))
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    base = LogisticRegression(C=c, max_iter=1000, tol=tol)
    x = x if prior is None else hstack([x, csr_matrix(x @ prior)]).tocsr()
    if not calibrate:
        weights, bias = _weights(base.fit(x, y, sample_weight=w), prior)
        return LinearModel(weights, bias, classes)
    logits = np.zeros((len(y), 1 if len(classes) == 2 else len(classes)))  # noqa: PLR2004
    for train, test in StratifiedGroupKFold(3, shuffle=True, random_state=seed).split(x, y, groups):
        part = LogisticRegression(C=c, max_iter=1000, tol=tol).fit(x[train], y[train], sample_weight=w[train])
        logits[test] = _logits(part, x[test])
    base.fit(x, y, sample_weight=w)
    weights, bias = _weights(base, prior)
    if len(classes) == 2:  # noqa: PLR2004
        platt = LogisticRegression(C=1e6).fit(logits, y, sample_weight=w)
        scale, shift = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        return LinearModel(weights * scale, bias * scale + shift, classes)
    codes = np.searchsorted(np.array(classes), y.astype(str))
    t = minimize_scalar(lambda t: _nll(logits / t, codes, w), bounds=(0.05, 20), method="bounded").x
    return LinearModel(weights / t, bias / t, classes)


def _logits(model: LogisticRegression, x: csr_matrix) -> np.ndarray:
    scores: np.ndarray = model.decision_function(x)
    return scores[:, None] if scores.ndim == 1 else scores


def _weights(model: LogisticRegression, prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    coef = model.coef_.T
    if prior is not None:  # x @ prior @ b == x @ (prior @ b): the dense part folds into the buckets
        coef = coef[:DIMS] + prior @ coef[DIMS:]
    coef = coef.astype(np.float32)
    padded = np.vstack([coef, np.zeros((1, coef.shape[1]), np.float32)])
    return padded, model.intercept_.astype(np.float32)


def _nll(logits: np.ndarray, codes: np.ndarray, w: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(-np.average(shifted[np.arange(len(codes)), codes] - log_norm, weights=w))
