r"""Capability beside safety: prompts with reference answers, scored by normalised exact match.

The file is JSONL ``{id, prompt, answer}`` (or ``messages`` instead of ``prompt``). An answer is
correct when, after normalisation (case folded, surrounding whitespace, quotes and final
punctuation stripped, inner whitespace collapsed), the response equals the reference, or its last
non-empty line does (so "The answer is below.\nParis" counts, "Paris, probably" does not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError
from monitor.gate.runner import Answer
from monitor.gate.stats import Comparison, Rate, compare
from monitor.gate.suite import Item

__all__ = ["Capability", "exact_match", "load_capability", "score_capability"]

_SPACE = re.compile(r"\s+")
_STRIP = " \t\n\"'`.,;:!?"
PREFIX = "capability:"


@dataclass(frozen=True, slots=True)
class Capability:
    """Accuracy of each side on the capability set, and the one-sided test of a loss."""

    comparison: Comparison


def exact_match(response: str, reference: str) -> bool:
    r"""Normalised exact match of the whole response or of its last non-empty line.

    >>> exact_match("The capital is:\n  Paris.", "paris"), exact_match("Paris, probably", "Paris")
    (True, False)
    """
    want = _normal(reference)
    lines = [line for line in response.splitlines() if line.strip()]
    return _normal(response) == want or bool(lines and _normal(lines[-1]) == want)


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip(_STRIP)


def load_capability(path: Path) -> list[Item]:
    """The capability prompts as items (ids prefixed ``capability:``, answers in ``expected``)."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            messages = (
                tuple((m["role"], m["content"]) for m in row["messages"])
                if "messages" in row
                else (("user", str(row["prompt"])),)
            )
            items.append(
                Item(
                    PREFIX + str(row.get("id", n)),
                    messages,
                    "capability",
                    harmful=False,
                    expected=str(row["answer"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError("--capability", f"{path}:{n}", f"needs prompt and answer ({exc})") from exc
    return items


def score_capability(
    items: list[Item], answers: Mapping[tuple[str, str, int], Answer], samples: int
) -> Capability:
    """Per side, the share of correct answers (each prompt's mean over its K samples)."""
    rates = []
    for side in ("base", "candidate"):
        means = []
        for item in items:
            got = [answers[side, item.id, k] for k in range(samples) if (side, item.id, k) in answers]
            if got:
                means.append(sum(exact_match(a.text, item.expected or "") for a in got) / len(got))
        rates.append(Rate.of(means))
    return Capability(compare(rates[0], rates[1], "down"))
