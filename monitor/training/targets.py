"""The card's targets section: each target of the classifier issue against the card's own figure."""

from __future__ import annotations

from typing import Any

__all__ = ["render_targets"]


def _same_models(lomo: dict[str, dict[str, Any]], names: tuple[str, ...]) -> float:
    rows = [lomo[n] for n in names if n in lomo]
    correct = sum(float(r["accuracy"]) * int(r["n"]) for r in rows)
    return round(correct / sum(int(r["n"]) for r in rows), 4)


def _verdict(value: float, target: float, higher: bool = True) -> str:
    met = value >= target if higher else value <= target
    return "met" if met else f"**missed** by {abs(value - target):.3f}"


def render_targets(card: dict[str, Any]) -> list[str]:
    """A table of target, figure and verdict, read from the other sections of ``card``."""
    refusal, toxicity, category = card["refusal"], card["toxicity"], card["harm_category"]
    named = tuple(m for m in refusal["leave_one_model_out"] if not m.startswith("unknown"))
    loso = refusal["leave_one_source_out"]
    worst_source = min(loso, key=lambda s: loso[s]["accuracy"])
    uncertain = max(refusal["uncertain_share"].values())
    compliance = refusal["benign_alarming_compliance_loso"]["judged_compliance"]
    tox = toxicity["leave_one_source_out"]
    worst_tox = min(tox, key=lambda s: tox[s].get("auroc", 1.0))
    cat = category["leave_one_source_out"]
    rows = [
        (
            "refusal accuracy, leave one model out (named models)",
            0.95,
            _same_models(refusal["leave_one_model_out"], named),
        ),
        (
            f"refusal accuracy, leave one source out (worst: {worst_source})",
            0.93,
            loso[worst_source]["accuracy"],
        ),
        ("compliance on safe but alarming prompts judged compliance (source held out)", 0.95, compliance),
        (f"toxicity AUROC, leave one source out (worst: {worst_tox})", 0.90, tox[worst_tox]["auroc"]),
        ("harm category: harmful-vs-benign AUROC, sources held out (pooled)", 0.97, cat["harmful_auroc"]),
        ("harm category: macro-F1, sources held out", 0.60, cat["macro_f1"]),
    ]
    if "coconot" in cat["per_source"]:  # the only source of safe but alarming prompts
        flagged = cat["per_source"]["coconot"]["benign_flagged_harmful"]
        rows.append(
            (
                "harm category: safe but alarming prompts called benign (CoCoNot held out)",
                0.90,
                round(1 - flagged, 3),
            )
        )
    return [
        "## Targets",
        "",
        "Each target of the classifier issue against this card's figure (README: what was tried).",
        "",
        "| target | goal | figure | verdict |",
        "|---|---|---|---|",
        *(f"| {name} | ≥ {goal} | {value} | {_verdict(value, goal)} |" for name, goal, value in rows),
        (
            f"| `uncertain` share of refusal judgements (worst of the two splits) | ≤ 0.15 | {uncertain} | "
            f"{_verdict(uncertain, 0.15, higher=False)} |"
        ),
        "",
    ]
