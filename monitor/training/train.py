"""``safety-monitor train``: rebuild the three models deterministically, evaluate, write the card."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from monitor.scoring.degeneracy import TRUNCATED, assess
from monitor.scoring.examples import EXAMPLES
from monitor.scoring.features import hash_text, prompt_view, response_view, text_view
from monitor.scoring.scorer import Scorer
from monitor.training.card import write_card
from monitor.training.corruptions import CORRUPTIONS, corrupt
from monitor.training.data import LABEL_MAPPING, Dataset, load
from monitor.training.evaluate import binary_metrics, calibration, macro_f1, rate_correction, unseen_auroc
from monitor.training.linear import fit, matrix
from monitor.training.onnx_export import export

__all__ = ["example_scores", "refresh_rules", "train"]

SEED = 20261123
_LONG_WORDS = 30  # corruptions need room: a loop or a cut must leave a recognisable remainder
_C = {"refusal": 8.0, "toxicity": 4.0, "harm_category": 8.0}


def train(data: Path, out: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, evaluate and export every model into ``out``; returns the card."""
    out.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {"seed": SEED, "label_mapping": LABEL_MAPPING}
    log("refusal ...")
    card["refusal"] = _refusal(load(data, "refusal"), out)
    log("toxicity ...")
    card["toxicity"] = _toxicity(load(data, "toxicity"), out)
    log("harm category ...")
    card["harm_category"] = _category(load(data, "harm_category"), out)
    log("degeneracy ...")
    card["incoherence"] = _degeneracy(load(data, "refusal"))
    card["examples"] = example_scores(out)
    write_card(card, out)
    return card


def refresh_rules(data: Path, out: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Re-measure the degeneracy rules into the existing card; the models are not touched.

    The rules are code, not trained weights: when they change, their section of the card must follow
    without a retrain that would also move every model.
    """
    card: dict[str, Any] = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    log("degeneracy ...")
    card["incoherence"] = _degeneracy(load(data, "refusal"))
    write_card(card, out)
    return card


def example_scores(model_dir: Path) -> list[dict[str, Any]]:
    """Scores of our own example pairs, so tests can check the committed models against the card."""
    scores = Scorer(model_dir).score([p for p, _ in EXAMPLES], [r for _, r in EXAMPLES])
    return [
        {
            "refusal_prob": round(s.refusal_prob, 4),
            "toxicity": round(s.toxicity, 4),
            "category": s.category,
            "category_prob": round(s.category_prob, 4),
        }
        for s in scores
    ]


def _groups(ds: Dataset) -> np.ndarray:
    return np.unique(np.array([str(g) for g in ds.column("group")]), return_inverse=True)[1]


def _folds(groups: np.ndarray, k: int) -> list[np.ndarray]:
    """Prompt groups split into ``k`` folds by a seeded permutation of the groups."""
    order = np.random.default_rng(SEED).permutation(groups.max() + 1)
    return [np.isin(groups, order[i::k]) for i in range(k)]


def _refusal(ds: Dataset, out: Path) -> dict[str, Any]:
    x = matrix(
        [response_view(hash_text(r["prompt"] or ""), hash_text(r["response"] or "")) for r in ds.records]
    )
    y, groups = np.array(ds.column("refusal")), _groups(ds)
    models, sources = np.array(ds.column("model")), np.array(ds.column("source"))
    folds = _folds(groups, 3)
    lomo, pooled = {}, np.zeros(len(y))
    for name in sorted(set(models)):
        for test_fold in folds:
            train, test = (models != name) & ~test_fold, (models == name) & test_fold
            if test.any():
                pooled[test] = fit(x[train], y[train], groups[train], _C["refusal"]).predict_proba(x[test])
        lomo[name] = binary_metrics(y[models == name], pooled[models == name])
    loso = {
        s: binary_metrics(
            y[sources == s],
            fit(x[sources != s], y[sources != s], groups[sources != s], _C["refusal"]).predict_proba(
                x[sources == s]
            ),
        )
        for s in sorted(set(sources))
    }
    export(fit(x, y, groups, _C["refusal"], SEED), out / "refusal.onnx", "refusal")
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


def _toxicity(ds: Dataset, out: Path) -> dict[str, Any]:
    x = matrix([text_view(hash_text(r["text"])) for r in ds.records])
    y, groups, sources = np.array(ds.column("toxic")), _groups(ds), np.array(ds.column("source"))
    held = _folds(groups, 5)[0]
    model = fit(x[~held], y[~held], groups[~held], _C["toxicity"])
    prob = model.predict_proba(x[held])
    loso = {}
    for s in sorted(set(sources)):
        part = fit(x[sources != s], y[sources != s], groups[sources != s], _C["toxicity"], calibrate=False)
        loso[s] = binary_metrics(y[sources == s], part.predict_proba(x[sources == s]))
    export(fit(x, y, groups, _C["toxicity"], SEED), out / "toxicity.onnx", "toxicity")
    return {
        "held_out": binary_metrics(y[held], prob),
        "calibration_held_out": calibration(y[held], prob),
        "leave_one_source_out": loso,
    }


def _category(ds: Dataset, out: Path) -> dict[str, Any]:
    x = matrix([prompt_view(hash_text(r["prompt"])) for r in ds.records])
    y, groups, sources = np.array(ds.column("category")), _groups(ds), np.array(ds.column("source"))
    benign, held = y == "benign", _folds(groups, 5)[0]
    predicted, harmful_prob = np.empty(len(y), dtype=object), np.zeros(len(y))
    per_source = {}
    for s in sorted(set(sources)):
        # No fold trains on ``held``, so each source can also be ranked against unseen prompts.
        test = sources == s
        part = fit(
            x[~test & ~held], y[~test & ~held], groups[~test & ~held], _C["harm_category"], calibrate=False
        )
        scored = test | held
        prob = part.predict_proba(x[scored])
        harmful = 1 - prob[:, part.classes.index("benign")]
        predicted[test] = np.array(part.classes)[prob[test[scored]].argmax(axis=1)]
        harmful_prob[test] = harmful[test[scored]]
        per_source[s] = _source_shares(y[test], predicted[test], harmful_prob[test]) | {
            "auroc_vs_unseen": unseen_auroc(benign[scored], test[scored], harmful)
        }
    model = fit(x[~held], y[~held], groups[~held], _C["harm_category"])
    prob = model.predict_proba(x[held])
    confidence = prob.max(axis=1)
    correct = (np.array(model.classes)[prob.argmax(axis=1)] == y[held]).astype(int)
    export(fit(x, y, groups, _C["harm_category"], SEED), out / "harm_category.onnx", "harm_category")
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


def _degeneracy(ds: Dataset) -> dict[str, Any]:
    rng = random.Random(SEED)
    # JailbreakBench capped generations at a fixed token budget, so many of its responses really are
    # cut mid-sentence: they are degenerate by construction and not counted as false positives.
    complete = [r["response"] or "" for r in ds.records if r["source"] != "jailbreakbench_artifacts"]
    long = [t for t in complete if len(t.split()) >= _LONG_WORDS]
    recall = {}
    for kind in CORRUPTIONS:
        # A cut is reported but not incoherent by itself, so its recall counts the reason.
        judged = (assess(corrupt(kind, t, rng)) for t in rng.sample(long, min(1000, len(long))))
        flagged = [kind in d.reasons if kind == TRUNCATED else d.incoherent for d in judged]
        recall[kind] = round(sum(flagged) / len(flagged), 4)
    capped = [assess(r["response"] or "") for r in ds.records if r["source"] == "jailbreakbench_artifacts"]
    return {
        "recall": recall,
        "recall_overall": round(sum(recall.values()) / len(recall), 4),
        "false_positive_rate_real": round(sum(assess(t).incoherent for t in complete) / len(complete), 4),
        "n_real": len(complete),
        "flag_rate_length_capped_jailbreakbench": round(sum(d.incoherent for d in capped) / len(capped), 4),
        "truncated_rate_length_capped_jailbreakbench": round(
            sum(TRUNCATED in d.reasons for d in capped) / len(capped), 4
        ),
    }
