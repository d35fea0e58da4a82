"""The toxicity model: fit, evaluate held-out and leave-one-source-out, export, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from monitor.scoring.features import hash_text, text_view
from monitor.training.card import reliability, table
from monitor.training.data import Dataset
from monitor.training.evaluate import binary_metrics, calibration
from monitor.training.linear import fit, matrix
from monitor.training.onnx_export import export
from monitor.training.splits import SEED, folds, groups

__all__ = ["C", "render", "train_toxicity"]

C = 4.0


def train_toxicity(ds: Dataset, out: Path) -> dict[str, Any]:
    """Evaluate, export ``toxicity.onnx`` into ``out`` and return the card's section."""
    x = matrix([text_view(hash_text(r["text"])) for r in ds.records])
    y, group_ids, sources = np.array(ds.column("toxic")), groups(ds), np.array(ds.column("source"))
    held = folds(group_ids, 5)[0]
    model = fit(x[~held], y[~held], group_ids[~held], C)
    prob = model.predict_proba(x[held])
    loso = {}
    for s in sorted(set(sources)):
        part = fit(x[sources != s], y[sources != s], group_ids[sources != s], C, calibrate=False)
        loso[s] = binary_metrics(y[sources == s], part.predict_proba(x[sources == s]))
    export(fit(x, y, group_ids, C, SEED), out / "toxicity.onnx", "toxicity")
    return {
        "held_out": binary_metrics(y[held], prob),
        "calibration_held_out": calibration(y[held], prob),
        "leave_one_source_out": loso,
    }


def render(section: dict[str, Any]) -> list[str]:
    """The card's Markdown for this model."""
    return [
        "## Toxicity",
        "",
        f"Held-out (grouped 20 %): {section['held_out']}",
        "",
        *table(section["leave_one_source_out"], ("n", "accuracy", "f1", "auroc")),
        "",
        *reliability(section["calibration_held_out"]),
        "",
    ]
