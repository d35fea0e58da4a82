"""The refusal model: fit, evaluate leave-one-model-out and leave-one-source-out, export, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from monitor.scoring.features import hash_text, response_view
from monitor.training.card import reliability, table
from monitor.training.data import Dataset
from monitor.training.evaluate import binary_metrics, calibration, rate_correction
from monitor.training.linear import LinearModel, fit, matrix
from monitor.training.onnx_export import export
from monitor.training.splits import SEED, folds, groups

__all__ = ["C", "features", "fit_refusal", "render", "train_refusal"]

C = 8.0


def features(ds: Dataset) -> csr_matrix:
    """The refusal view of every (prompt, response) record."""
    return matrix(
        [response_view(hash_text(r["prompt"] or ""), hash_text(r["response"] or "")) for r in ds.records]
    )


def fit_refusal(ds: Dataset, seed: int = SEED) -> LinearModel:
    """The shipped recipe on ``ds``: what ``train`` exports, and what the replay benchmark holds out."""
    return fit(features(ds), np.array(ds.column("refusal")), groups(ds), C, seed)


def train_refusal(ds: Dataset, out: Path) -> dict[str, Any]:
    """Evaluate, export ``refusal.onnx`` into ``out`` and return the card's section."""
    x, y, group_ids = features(ds), np.array(ds.column("refusal")), groups(ds)
    models, sources = np.array(ds.column("model")), np.array(ds.column("source"))
    prompt_folds = folds(group_ids, 3)
    lomo, pooled = {}, np.zeros(len(y))
    for name in sorted(set(models)):
        for test_fold in prompt_folds:
            train, test = (models != name) & ~test_fold, (models == name) & test_fold
            if test.any():
                pooled[test] = fit(x[train], y[train], group_ids[train], C).predict_proba(x[test])
        lomo[name] = binary_metrics(y[models == name], pooled[models == name])
    loso = {
        s: binary_metrics(
            y[sources == s],
            fit(x[sources != s], y[sources != s], group_ids[sources != s], C).predict_proba(x[sources == s]),
        )
        for s in sorted(set(sources))
    }
    export(fit(x, y, group_ids, C, SEED), out / "refusal.onnx", "refusal")
    # Where the errors are: the sources' own labels (Do-Not-Answer's six actions, judge verdicts).
    original = np.array([str(r.get("orig_label")) for r in ds.records])
    correct = (pooled >= 0.5) == (y == 1)  # noqa: PLR2004
    return {
        "leave_one_model_out": lomo,
        "leave_one_source_out": loso,
        "pooled_lomo": binary_metrics(y, pooled),
        "calibration_lomo": calibration(y, pooled),
        "rate_correction_lomo": rate_correction(y, pooled),
        "lomo_by_original_label": {
            label: {
                "n": int((original == label).sum()),
                "accuracy": round(float(correct[original == label].mean()), 4),
            }
            for label in sorted(set(original))
        },
    }


def render(section: dict[str, Any]) -> list[str]:
    """The card's Markdown for this model."""
    return [
        "## Refusal",
        "",
        "Leave one model out (the model's responses held out, and their prompts' folds too):",
        "",
        *table(section["leave_one_model_out"], ("n", "accuracy", "f1", "auroc")),
        "",
        f"Pooled over held-out models: {section['pooled_lomo']}",
        "",
        "Leave one source out:",
        "",
        *table(section["leave_one_source_out"], ("n", "accuracy", "f1", "auroc")),
        "",
        "Where the leave-one-model-out errors are, by the source's own label (Do-Not-Answer's actions 1",
        "and 4 are soft refusals and count as refusals; 2, 3 and 5 are answers):",
        "",
        *table(section["lomo_by_original_label"], ("n", "accuracy"), "original label"),
        "",
        "Calibration on the pooled leave-one-model-out predictions:",
        "",
        *reliability(section["calibration_lomo"]),
        "",
    ]
