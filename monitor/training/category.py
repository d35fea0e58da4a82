"""The harm-category model: fit, evaluate with sources held out, export, render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from monitor.scoring.features import hash_text, prompt_view
from monitor.scoring.scorer import CATEGORY_HEAD, blend
from monitor.training.card import reliability, table
from monitor.training.data import Dataset
from monitor.training.encoder import embed
from monitor.training.evaluate import binary_metrics, calibration, macro_f1, unseen_auroc
from monitor.training.linear import fit, matrix
from monitor.training.onnx_export import export, export_head
from monitor.training.splits import SEED, folds, groups
from monitor.training.word_vectors import prior

__all__ = ["C", "render", "train_category"]

C = 8.0
C_HEAD = 4.0  # the encoder head's logistic regression (4 beat 1 with sources held out)
PRIOR = 2.0  # scale of the word-vector term (monitor.training.word_vectors)


def train_category(ds: Dataset, out: Path) -> dict[str, Any]:
    """Evaluate, export ``harm_category.onnx`` and its encoder head into ``out``, return the card's section.

    Each source is held out in turn from both models; the blend's exponents are fitted on those
    held-out predictions (every source weighing the same), so they reward what transfers. Their
    common scale is then calibrated on the grouped held-out slice.
    """
    prompts = [r["prompt"] for r in ds.records]
    x, e = matrix([prompt_view(hash_text(p)) for p in prompts]), embed(prompts, out)
    words = prior("p1", PRIOR)
    y, group_ids, sources = np.array(ds.column("category")), groups(ds), np.array(ds.column("source"))
    held = folds(group_ids, 5)[0]
    linear, encoder = np.zeros((len(y), len(set(y)))), np.zeros((len(y), len(set(y))))
    unseen: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # source -> (rows scored, both models' probs)
    for s in sorted(set(sources)):
        # No fold trains on ``held``, so each source can also be ranked against unseen prompts.
        test, train = sources == s, (sources != s) & ~held
        scored = test | held
        part = fit(x[train], y[train], group_ids[train], C, calibrate=False, prior=words)
        head = fit(e[train], y[train], group_ids[train], C_HEAD, calibrate=False)
        both = part.predict_proba(x[scored]), head.predict_proba(e[scored])
        linear[test], encoder[test] = both[0][test[scored]], both[1][test[scored]]
        unseen[s] = scored, np.stack(both)
    classes = part.classes
    weights = _blend_weights(linear, encoder, y, classes, sources)
    model = fit(x[~held], y[~held], group_ids[~held], C, prior=words)
    head = fit(e[~held], y[~held], group_ids[~held], C_HEAD, calibrate=False)
    weights = _calibrated(
        weights, model.predict_proba(x[held]), head.predict_proba(e[held]), y[held], classes
    )
    prob = blend(model.predict_proba(x[held]), head.predict_proba(e[held]), weights)
    export(fit(x, y, group_ids, C, SEED, prior=words), out / "harm_category.onnx", "harm_category")
    export_head(
        fit(e, y, group_ids, C_HEAD, calibrate=False), out / CATEGORY_HEAD, "harm_category_encoder", weights
    )
    variants = {"linear": linear, "encoder": encoder, "blend": blend(linear, encoder, weights)}
    return {
        "blend": [round(w, 4) for w in weights],
        "leave_one_source_out": {
            **_pooled(variants["blend"], y, classes, sources, unseen, weights),
            "variants": {k: _pooled(v, y, classes, sources, unseen, weights, k) for k, v in variants.items()},
            "per_class_support": {str(c): int((y == c).sum()) for c in sorted(set(y))},
            "per_source": _per_source(variants["blend"], y, classes, sources, unseen, weights),
        },
        "held_out": _held_out(prob, y[held], classes),
    }


def _blend_weights(
    linear: np.ndarray, encoder: np.ndarray, y: np.ndarray, classes: tuple[str, ...], sources: np.ndarray
) -> tuple[float, float]:
    """Exponents minimising the held-out sources' log loss, each source weighing the same."""
    codes = np.searchsorted(np.array(classes), y)
    counts = {s: (sources == s).sum() for s in set(sources)}
    w = np.array([1 / counts[s] for s in sources])
    result = minimize(
        lambda ab: _log_loss(blend(linear, encoder, ab), codes, w), [0.5, 0.5], bounds=[(0, 3)] * 2
    )
    return float(result.x[0]), float(result.x[1])


def _calibrated(
    weights: tuple[float, float],
    linear: np.ndarray,
    encoder: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
) -> tuple[float, float]:
    """The exponents' common scale (a temperature) fitted on the grouped held-out slice."""
    codes, w = np.searchsorted(np.array(classes), y), np.ones(len(y))
    scale = minimize_scalar(
        lambda t: _log_loss(blend(linear, encoder, (weights[0] * t, weights[1] * t)), codes, w),
        bounds=(0.1, 5),
        method="bounded",
    ).x
    return float(weights[0] * scale), float(weights[1] * scale)


def _log_loss(prob: np.ndarray, codes: np.ndarray, w: np.ndarray) -> float:
    return float(-np.average(np.log(np.maximum(prob[np.arange(len(codes)), codes], 1e-12)), weights=w))


def _harmful(prob: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    out: np.ndarray = 1 - prob[:, classes.index("benign")]
    return out


def _unseen(
    sources: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    unseen: dict[str, tuple[np.ndarray, np.ndarray]],
    pick: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> dict[str, float]:
    """Each held-out source's AUROC against prompts of the other class that no fold trained on."""
    out = {}
    for s, (scored, both) in unseen.items():
        out[s] = unseen_auroc(y[scored] == "benign", sources[scored] == s, _harmful(pick(*both), classes))
    return out


def _pick(variant: str, weights: tuple[float, float]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if variant == "linear":
        return lambda linear, _: linear
    if variant == "encoder":
        return lambda _, encoder: encoder
    return lambda linear, encoder: blend(linear, encoder, weights)


def _pooled(
    prob: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    sources: np.ndarray,
    unseen: dict[str, tuple[np.ndarray, np.ndarray]],
    weights: tuple[float, float],
    variant: str = "blend",
) -> dict[str, Any]:
    """One variant's figures with each source held out."""
    benign, harmful = y == "benign", _harmful(prob, classes)
    contrast = sources == "coconot"
    return {
        "macro_f1": macro_f1(y, np.array(classes)[prob.argmax(axis=1)]),
        "harmful_auroc": binary_metrics((~benign).astype(int), harmful).get("auroc"),
        "mean_auroc_vs_unseen": round(
            float(np.mean(list(_unseen(sources, y, classes, unseen, _pick(variant, weights)).values()))), 4
        ),
        "alarming_benign_called_benign": round(float((harmful[contrast & benign] < 0.5).mean()), 4),  # noqa: PLR2004
    }


def _per_source(
    prob: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    sources: np.ndarray,
    unseen: dict[str, tuple[np.ndarray, np.ndarray]],
    weights: tuple[float, float],
) -> dict[str, Any]:
    predicted = np.array(classes)[prob.argmax(axis=1)]
    aurocs = _unseen(sources, y, classes, unseen, _pick("blend", weights))
    return {
        s: _source_shares(y[sources == s], predicted[sources == s], _harmful(prob, classes)[sources == s])
        | {"auroc_vs_unseen": aurocs[s]}
        for s in sorted(set(sources))
    }


def _held_out(prob: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    correct = (np.array(classes)[prob.argmax(axis=1)] == y).astype(int)
    return {
        "macro_f1": macro_f1(y, np.array(classes)[prob.argmax(axis=1)]),
        "calibration": calibration(correct, prob.max(axis=1)),
        # The detectors weigh samples by these probabilities, so each class's must hold.
        "ece_per_class": {
            c: calibration((y == c).astype(int), prob[:, i])["ece"] for i, c in enumerate(classes)
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
    variants = loso.get("variants", {})
    return [
        "## Harm category (10 classes)",
        "",
        "Two models, blended: the linear model over hashed prompt n-grams (fitted with the word-vector",
        f"prior at scale {PRIOR}, `monitor/training/word_vectors.py`) and a logistic head over the",
        "prompt's MiniLM sentence embedding (`encoder.onnx`, `harm_category_encoder.onnx`). The scorer",
        "multiplies their probabilities raised to exponents fitted on sources each model never saw,",
        f"every source weighing the same, then scaled on the grouped held-out slice: {section.get('blend')}",
        "(linear, encoder).",
        "",
        f"Leave one source out, pooled (blend): macro-F1 {loso['macro_f1']},",
        f"harmful-vs-benign AUROC {loso['harmful_auroc']}.",
        "The pooled AUROC mixes scores from models trained without different sources, so the fold",
        "that removes most benign data (Alpaca) ranks benign prompts high. A grouped 20 % slice that no",
        "fold trains on separates the two questions: `auroc_vs_unseen` ranks each held-out source against",
        "the other class (its own and the slice's benign prompts, or the slice's harmful ones for a",
        f"benign-only source); mean {loso['mean_auroc_vs_unseen']}.",
        "`alarming_benign_called_benign` is CoCoNot's safe but alarming-sounding prompts called `benign`",
        "with CoCoNot held out. The blend's exponents were fitted on these same held-out predictions",
        "(two numbers), so its row is slightly optimistic against the other two.",
        "",
        *table(
            variants, ("macro_f1", "harmful_auroc", "mean_auroc_vs_unseen", "alarming_benign_called_benign")
        ),
        "",
        "Each source held out, the blend (the shares at the 0.5 threshold, and the category among",
        "harmful prompts):",
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
        f"Held-out (grouped 20 %) macro-F1 of the blend: {section['held_out']['macro_f1']}; ECE of each",
        f"class's probability (one against the rest): {section['held_out'].get('ece_per_class')};",
        "top-class calibration:",
        "",
        *reliability(section["held_out"]["calibration"]),
        "",
    ]
