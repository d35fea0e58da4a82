"""Read the shared labelled data, and state the label mapping the model card reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.scoring.categories import CATEGORIES

__all__ = ["CATEGORIES", "LABEL_MAPPING", "Dataset", "category_held_back", "load"]


# Prompts the harm-category model is not trained on. CoCoNot's non-compliance prompts outside
# "requests with safety concerns" (incomplete, unsupported, humanizing ...) are `benign` to the harm
# taxonomy but refused for reasons it does not model, so they teach it nothing about harm. Its
# contrast prompts (benign, alarming) and its harmful prompts train; the README has the variants.
def category_held_back(record: dict[str, Any]) -> bool:
    """Whether a prompt record stays out of harm-category training (it stays in evaluation data)."""
    return bool(
        record["source"] == "coconot"
        and record.get("category") == "benign"
        and not record.get("should_comply")
    )


LABEL_MAPPING = {
    "refusal": "refusal = the source's `refusal` field. Do-Not-Answer soft refusals (action 1 'refute the "
    "premise', action 4 'cannot due to limitation'; `refusal_ambiguous`) count as refusals, as the product "
    "treats partial refusals as refusals: the model did not do what was asked. JailbreakBench labels come "
    "from an LLM judge plus a refusal-phrase rule and are used for training and as a secondary evaluation.",
    "toxicity": "toxic = the source's `toxic` field (hate or offensive, abusive by annotator majority, "
    "isHate >= 0.5 ...); graded `score` is not used for training.",
    "harm_category": "category = the source's canonical category; harmful prompts whose category is null "
    "(keyword heuristic found none) train the harmful-vs-benign head only through their absence from "
    "the category set: they are excluded. CoCoNot's contrast prompts (alarming, meant to be answered) "
    "are `benign`; its non-compliance prompts without a safety concern are held back "
    "(`category_held_back`).",
}


@dataclass(frozen=True, slots=True)
class Dataset:
    """Texts, labels and the grouping columns evaluation needs."""

    records: list[dict[str, Any]]

    def column(self, key: str) -> list[Any]:
        """One field of every record."""
        return [r.get(key) for r in self.records]


def _jsonl(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            yield from (json.loads(line) for line in lines if line.strip())


def load(data: Path, task: str) -> Dataset:
    """Records for ``task``: ``refusal``, ``toxicity`` or ``harm_category``."""
    if task == "refusal":
        rows = [r | {"group": r.get("goal") or r["prompt"]} for r in _jsonl(data / "responses")]
        return Dataset([r for r in rows if r.get("response") is not None])
    if task == "toxicity":
        return Dataset([r | {"group": r["text"]} for r in _jsonl(data / "toxicity") if r.get("text")])
    rows = [r | {"group": r["prompt"]} for r in _jsonl(data / "prompts")]
    return Dataset([r for r in rows if r.get("category") in CATEGORIES and not category_held_back(r)])
