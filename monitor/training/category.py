"""The harm-category model: fit, evaluate with sources held out, export, render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from monitor.scoring.features import hash_text, prompt_view
from monitor.scoring.scorer import CATEGORY_HEAD, blend
from monitor.training.card import reliability, table
from monitor.training.data import Dataset
from monitor.training.encoder import embed
from monitor.training.evaluate import binary_metrics, calibration, macro_f1, unseen_auroc
from monitor.training.linear import fit, matrix
from monitor.training.onnx_export import export, export_head
from monitor.training.splits import SEED, folds, groups
from monitor.training.stacking import fit_blend
from monitor.training.word_vectors import prior

__all__ = ["C", "render", "train_category"]

C = 8.0
C_HEAD = 4.0  # the encoder head's logistic regression (4 beat 1 with sources held out)
PRIOR = 2.0  # scale of the word-vector term (monitor.training.word_vectors)


def train_category(ds: Dataset, out: Path) -> dict[str, Any]:
    """Evaluate, export ``harm_category.onnx`` and its encoder head into ``out``, return the card's section.

    Each source is held out in turn from both models, and each variant (n-grams, encoder head,
    blend) is reported that way. The blend's two exponents are fitted on the grouped held-out slice,
    which no model in the report trained on either.
    """
    prompts = [r["prompt"] for r in ds.records]
    x, e = matrix([prompt_view(hash_text(p)) for p in prompts]), embed(prompts, out)
    words = prior("p1", PRIOR)
    y, group_ids, sources = np.array(ds.column("category")), groups(ds), np.array(ds.column("source"))
    held = folds(group_ids, 5)[0]
    linear, encoder, unseen = _each_source_held_out(x, e, y, group_ids, sources, held, words)
    classes = tuple(str(c) for c in np.unique(y))  # as fit orders them
    codes = np.searchsorted(np.array(classes), y)
    model = fit(x[~held], y[~held], group_ids[~held], C, prior=words)
    head = fit(e[~held], y[~held], group_ids[~held], C_HEAD, calibrate=False)
    near = model.predict_proba(x[held]), head.predict_proba(e[held])
    # Fitted on unseen sources instead, the exponents came out (0.07, 0.97): better pooled figures
    # with sources held out, but CoCoNot's alarming prompts `benign` 0.66 against 0.77, and familiar
    # prompts read less sharply than the n-grams read them (README).
    weights = fit_blend(*near, codes[held])
    prob = blend(*near, weights)
    export(fit(x, y, group_ids, C, SEED, prior=words), out / "harm_category.onnx", "harm_category")
    export_head(
        fit(e, y, group_ids, C_HEAD, calibrate=False), out / CATEGORY_HEAD, "harm_category_encoder", weights
    )
    variants = {"linear": linear, "encoder": encoder, "blend": blend(linear, encoder, weights)}
    report = _HeldOut(y, classes, sources, unseen, weights)
    pooled = {k: report.pooled(v, k) for k, v in variants.items()}
    return {
        "blend": [round(w, 4) for w in weights],
        "leave_one_source_out": {
            **pooled["blend"],
            "variants": pooled,
            "per_class_support": {str(c): int((y == c).sum()) for c in sorted(set(y))},
            "per_source": report.per_source(variants["blend"]),
        },
        "held_out": _held_out(prob, y[held], classes),
    }


def _harmful(prob: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    out: np.ndarray = 1 - prob[:, classes.index("benign")]
    return out


def _each_source_held_out(
    x: csr_matrix,
    e: np.ndarray,
    y: np.ndarray,
    group_ids: np.ndarray,
    sources: np.ndarray,
    held: np.ndarray,
    words: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Both models' probabilities for each source, fitted without it (and without the slice).

    Also, per source, the rows it and the slice hold and both models' probabilities there, so each
    source can be ranked against prompts no fold trained on.
    """
    linear, encoder = np.zeros((len(y), len(set(y)))), np.zeros((len(y), len(set(y))))
    unseen: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # source -> (rows scored, both models' probs)
    for s in sorted(set(sources)):
        test, train = sources == s, (sources != s) & ~held
        scored = test | held
        part = fit(x[train], y[train], group_ids[train], C, calibrate=False, prior=words)
        head = fit(e[train], y[train], group_ids[train], C_HEAD, calibrate=False)
        both = part.predict_proba(x[scored]), head.predict_proba(e[scored])
        linear[test], encoder[test] = both[0][test[scored]], both[1][test[scored]]
        unseen[s] = scored, np.stack(both)
    return linear, encoder, unseen


@dataclass(frozen=True, slots=True)
class _HeldOut:
    """What every source-held-out figure reads: labels, sources, and each fold's scored rows."""

    y: np.ndarray
    classes: tuple[str, ...]
    sources: np.ndarray
    unseen: dict[str, tuple[np.ndarray, np.ndarray]]  # source -> (rows scored, both models' probs)
    weights: tuple[float, float]

    def auroc_vs_unseen(self, variant: str) -> dict[str, float]:
        """Each held-out source's AUROC against prompts of the other class that no fold trained on."""
        out = {}
        for s, (scored, (linear, encoder)) in self.unseen.items():
            prob = {"linear": linear, "encoder": encoder}.get(variant)
            prob = blend(linear, encoder, self.weights) if prob is None else prob
            out[s] = unseen_auroc(
                self.y[scored] == "benign", self.sources[scored] == s, _harmful(prob, self.classes)
            )
        return out

    def pooled(self, prob: np.ndarray, variant: str = "blend") -> dict[str, Any]:
        """One variant's figures with each source held out."""
        benign, harmful = self.y == "benign", _harmful(prob, self.classes)
        alarming = (self.sources == "coconot") & benign
        return {
            "macro_f1": macro_f1(self.y, np.array(self.classes)[prob.argmax(axis=1)]),
            "harmful_auroc": binary_metrics((~benign).astype(int), harmful).get("auroc"),
            "mean_auroc_vs_unseen": round(float(np.mean(list(self.auroc_vs_unseen(variant).values()))), 4),
            "alarming_benign_called_benign": round(float((harmful[alarming] < 0.5).mean()), 4),  # noqa: PLR2004
        }

    def per_source(self, prob: np.ndarray) -> dict[str, Any]:
        """The blend's shares and ranking for each held-out source."""
        predicted, harmful = np.array(self.classes)[prob.argmax(axis=1)], _harmful(prob, self.classes)
        aurocs = self.auroc_vs_unseen("blend")
        return {
            s: _source_shares(
                self.y[self.sources == s], predicted[self.sources == s], harmful[self.sources == s]
            )
            | {"auroc_vs_unseen": aurocs[s]}
            for s in sorted(set(self.sources))
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
    variants = {
        k: loso["variants"][k] for k in ("linear", "encoder", "blend") if k in loso.get("variants", {})
    }
    return [
        "## Harm category (10 classes)",
        "",
        "Two models, blended: the linear model over hashed prompt n-grams (fitted with the word-vector",
        f"prior at scale {PRIOR}, `monitor/training/word_vectors.py`) and a logistic head over the",
        "prompt's MiniLM sentence embedding (`encoder.onnx`, `harm_category_encoder.onnx`). The scorer",
        "multiplies their probabilities raised to two exponents fitted on the grouped held-out slice",
        f"(which also calibrates the product): {section.get('blend')} (linear, encoder).",
        "",
        f"Leave one source out, pooled (blend): macro-F1 {loso['macro_f1']},",
        f"harmful-vs-benign AUROC {loso['harmful_auroc']}.",
        "The pooled AUROC mixes scores from models trained without different sources, so the fold",
        "that removes most benign data (Alpaca) ranks benign prompts high. A grouped 20 % slice that no",
        "fold trains on separates the two questions: `auroc_vs_unseen` ranks each held-out source against",
        "the other class (its own and the slice's benign prompts, or the slice's harmful ones for a",
        f"benign-only source); mean {loso['mean_auroc_vs_unseen']}.",
        "`alarming_benign_called_benign` is CoCoNot's safe but alarming-sounding prompts called `benign`",
        "with CoCoNot held out.",
        "",
        *table(
            variants,
            ("macro_f1", "harmful_auroc", "mean_auroc_vs_unseen", "alarming_benign_called_benign"),
            "model",
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
