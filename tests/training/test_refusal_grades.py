"""The refusal model's three grades, from each source's own labels (records written here)."""

from __future__ import annotations

from monitor.training.data import Dataset
from monitor.training.refusal import grades


def _record(source: str, refusal: int, orig_label: str = "", ambiguous: bool = False) -> dict[str, object]:
    return {"source": source, "refusal": refusal, "orig_label": orig_label, "refusal_ambiguous": ambiguous}


def test_grades_follow_the_sources_labels():
    ds = Dataset(
        [
            _record("do_not_answer", 1, "0_cannot_assist"),
            _record("do_not_answer", 1, "1_refute_opinion", ambiguous=True),
            _record("do_not_answer", 1, "4_cannot_due_to_limitation", ambiguous=True),
            _record("do_not_answer", 0, "3_answer_with_disclaimer"),
            _record("gptfuzz", 1, "jailbroken=0", ambiguous=True),
            _record("gptfuzz", 1, "jailbroken=0"),
            _record("coconot_pref", 1, "rejected", ambiguous=True),
            _record("gptfuzz", 0, "jailbroken=1", ambiguous=True),
        ]
    )
    assert grades(ds).tolist() == [
        "full_refusal",
        "partial_refusal",
        "full_refusal",
        "compliance",
        "partial_refusal",
        "full_refusal",
        "full_refusal",
        "compliance",
    ]
