"""``safety-monitor train``: rebuild the models deterministically, evaluate, write the card."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.scoring.examples import EXAMPLES
from monitor.scoring.scorer import Scorer
from monitor.training import category, refusal, rules, toxicity
from monitor.training.card import Render, write_card
from monitor.training.data import LABEL_MAPPING, Dataset, load
from monitor.training.splits import SEED

__all__ = ["TASKS", "Task", "example_scores", "train"]


@dataclass(frozen=True, slots=True)
class Task:
    """One section of the card: the data it reads, how it is built, and how it is rendered."""

    data: str
    build: Callable[[Dataset, Path], dict[str, Any]]
    render: Render


# Card key → task, in the card's order. `incoherence` fits nothing: its rules are code.
TASKS = {
    "refusal": Task("refusal", refusal.train_refusal, refusal.render),
    "toxicity": Task("toxicity", toxicity.train_toxicity, toxicity.render),
    "harm_category": Task("harm_category", category.train_category, category.render),
    "incoherence": Task("refusal", lambda ds, _: rules.measure_rules(ds), rules.render),
}


def train(
    data: Path, out: Path, only: Collection[str] | None = None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Build every task (or ``only`` those) into ``out``; the others keep their part of the card.

    A partial rebuild keeps the committed card's other sections, so retraining one model does not
    move the rest.
    """
    unknown = set(only or ()) - set(TASKS)
    if unknown:
        msg = f"unknown task(s) {sorted(unknown)}; choose from {sorted(TASKS)}"
        raise ValueError(msg)
    out.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {}
    if only is not None:
        card = json.loads((out / "model_card.json").read_text(encoding="utf-8"))
    card |= {"seed": SEED, "label_mapping": LABEL_MAPPING}
    for key, task in TASKS.items():
        if only is None or key in only:
            log(f"{key} ...")
            card[key] = task.build(load(data, task.data), out)
    card["examples"] = example_scores(out)
    write_card(card, out, [(key, task.render) for key, task in TASKS.items()])
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
