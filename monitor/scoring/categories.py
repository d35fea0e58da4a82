"""The closed set of harm categories (the 9 of the shared data's taxonomy, plus benign)."""

from __future__ import annotations

__all__ = ["BENIGN", "CATEGORIES"]

BENIGN = "benign"
CATEGORIES = (
    "violence_weapons",
    "illegal_activities",
    "hate_discrimination",
    "self_harm",
    "privacy",
    "deception",
    "sexual_content",
    "cybersecurity",
    "specialized_advice",
    BENIGN,
)
