"""The degeneracy rules: measured on corrupted and real responses, rendered; nothing is fitted."""

from __future__ import annotations

import random
from typing import Any

from monitor.scoring.degeneracy import TRUNCATED, assess
from monitor.training.corruptions import CORRUPTIONS, corrupt
from monitor.training.data import Dataset
from monitor.training.splits import SEED

__all__ = ["measure_rules", "render"]

_LONG_WORDS = 30  # corruptions need room: a loop or a cut must leave a recognisable remainder


def measure_rules(ds: Dataset) -> dict[str, Any]:
    """Recall on generated degenerate outputs and false positives on real responses."""
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


def render(section: dict[str, Any]) -> list[str]:
    """The card's Markdown for the rules."""
    return [
        "## Incoherence (rules)",
        "",
        f"Recall on degenerate outputs generated from real responses: {section['recall']}",
        f"(overall {section['recall_overall']});",
        f"false positives on {section['n_real']} real responses:",
        f"{section['false_positive_rate_real']}. `truncated` (the recall above counts the reason) is",
        "reported but is not `incoherent` by itself: a length-capped answer is ordinary traffic.",
        "JailbreakBench responses were length-capped by the benchmark and really are cut off; this",
        f"share of them is `truncated`: {section.get('truncated_rate_length_capped_jailbreakbench')},",
        f"and this share `incoherent`: {section['flag_rate_length_capped_jailbreakbench']}.",
        "",
    ]
