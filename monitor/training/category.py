"""The harm-category model: fit, evaluate with sources held out, export, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from monitor.scoring.features import hash_text, prompt_view
from monitor.training.card import reliability, table
from monitor.training.data import Dataset
from monitor.training.evaluate import binary_metrics, calibration, macro_f1, unseen_auroc
from monitor.training.linear import fit, matrix
from monitor.training.onnx_export import export
from monitor.training.splits import SEED, folds, groups
from monitor.training.word_vectors import prior

__all__ = ["C", "render", "train_category"]

C = 8.0
PRIOR = 2.0  # scale of the word-vector term (monitor.training.word_vectors)


def train_category(ds: Dataset, out: Path) -> dict[str, Any]:
    """Evaluate, export ``harm_category.onnx`` into ``out`` and return the card's section."""
    x = matrix([prompt_view(hash_text(r["prompt"])) for r in ds.records])
    words = prior("p1", PRIOR)
    y, group_ids, sources = np.array(ds.column("category")), groups(ds), np.array(ds.column("source"))
    benign, held = y == "benign", folds(group_ids, 5)[0]
    predicted, harmful_prob = np.empty(len(y), dtype=object), np.zeros(len(y))
    per_source = {}
    for s in sorted(set(sources)):
        # No fold trains on ``held``, so each source can also be ranked against unseen prompts.
        test = sources == s
        part = fit(
            x[~test & ~held], y[~test & ~held], group_ids[~test & ~held], C, calibrate=False, prior=words
        )
        scored = test | held
        prob = part.predict_proba(x[scored])
        harmful = 1 - prob[:, part.classes.index("benign")]
        predicted[test] = np.array(part.classes)[prob[test[scored]].argmax(axis=1)]
        harmful_prob[test] = harmful[test[scored]]
        per_source[s] = _source_shares(y[test], predicted[test], harmful_prob[test]) | {
            "auroc_vs_unseen": unseen_auroc(benign[scored], test[scored], harmful)
        }
    model = fit(x[~held], y[~held], group_ids[~held], C, prior=words)
    prob = model.predict_proba(x[held])
    confidence = prob.max(axis=1)
    correct = (np.array(model.classes)[prob.argmax(axis=1)] == y[held]).astype(int)
    export(fit(x, y, group_ids, C, SEED, prior=words), out / "harm_category.onnx", "harm_category")
    return {
        "leave_one_source_out": {
            "macro_f1": macro_f1(y, predicted.astype(str)),
            "harmful_auroc": binary_metrics((~benign).astype(int), harmful_prob).get("auroc"),
            "mean_auroc_vs_unseen": round(
                float(np.mean([v["auroc_vs_unseen"] for v in per_source.values()])), 4
            ),
            "per_class_support": {str(c): int((y == c).sum()) for c in sorted(set(y))},
            "per_source": per_source,
        },
        "held_out": {
            "macro_f1": macro_f1(y[held], np.array(model.classes)[prob.argmax(axis=1)]),
            "calibration": calibration(correct, confidence),
            # The detectors weigh samples by these probabilities, so each class's must hold.
            "ece_per_class": {
                c: calibration((y[held] == c).astype(int), prob[:, i])["ece"]
                for i, c in enumerate(model.classes)
            },
        },
    }


def _source_shares(y: np.ndarray, predicted: np.ndarray, harmful_prob: np.ndarray) -> dict[str, Any]:
    """One held-out source: how many benign prompts it flags, harmful ones it finds, categories it gets."""
    benign, flagged = y == "benign", harmful_prob >= 0.5  # noqa: PLR2004
    shares: dict[str, Any] = {"n": len(y)}
    if benign.any():
        shares["benign_flagged_harmful"] = round(float(flagged[benign].mean()), 3)
    if (~benign).any():
        shares["harmful_detected"] = round(float(flagged[~benign].mean()), 3)
        shares["harmful_category_accuracy"] = round(float((predicted[~benign] == y[~benign]).mean()), 3)
    return shares


def render(section: dict[str, Any]) -> list[str]:
    """The card's Markdown for this model."""
    loso = section["leave_one_source_out"]
    return [
        "## Harm category (10 classes)",
        "",
        f"Fitted with the word-vector prior at scale {PRIOR} (`monitor/training/word_vectors.py`): each",
        "prompt word also weighs in through a static MiniLM vector, so a word that no training source",
        "used inherits the weight of words that mean alike. It folds into the bucket weights.",
        "",
        f"Leave one source out, pooled: macro-F1 {loso['macro_f1']},",
        f"harmful-vs-benign AUROC {loso['harmful_auroc']}.",
        "The pooled AUROC mixes scores from models trained without different sources, so the fold",
        "that removes most benign data (Alpaca) ranks benign prompts high. A grouped 20 % slice that no",
        "fold trains on separates the two questions: `auroc_vs_unseen` ranks each held-out source against",
        "the other class (its own and the slice's benign prompts, or the slice's harmful ones for a",
        f"benign-only source); mean {loso['mean_auroc_vs_unseen']}.",
        "The shares show where generalisation fails: at the 0.5 threshold, and in the category among",
        "harmful prompts.",
        "",
        *table(
            loso["per_source"],
            (
                "n",
                "benign_flagged_harmful",
                "harmful_detected",
                "harmful_category_accuracy",
                "auroc_vs_unseen",
            ),
        ),
        "",
        f"Class support: {loso['per_class_support']}",
        "",
        f"Held-out (grouped 20 %) macro-F1: {section['held_out']['macro_f1']}; ECE of each class's",
        f"probability (one against the rest): {section['held_out'].get('ece_per_class', 'not measured')};",
        "top-class calibration:",
        "",
        *reliability(section["held_out"]["calibration"]),
        "",
    ]
