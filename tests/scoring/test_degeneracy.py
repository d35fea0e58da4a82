"""Degeneracy rules on texts written for these tests."""

from __future__ import annotations

import pytest

from monitor.scoring.degeneracy import assess

FINE = (
    "Sourdough needs a lively starter. Feed it the day before, mix the dough in the morning, "
    "and let it rise slowly in a cool kitchen until it has doubled in size."
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("the cat sat on the mat " * 40, "repetition"),
        (
            "Sourdough starter kitchen doubled morning lively slowly rise mix feed cool size dough " * 2,
            "token_salad",
        ),
        (FINE[:-1] + " and then after that you should take the", "truncated"),
        (
            "Der Teig muss über Nacht ruhen und dann wird er mit dem Mehl und dem Wasser gemischt.",
            "wrong_language",
        ),
        ("Привет, это ответ на русском языке, и он не на английском языке вообще.", "wrong_language"),
    ],
)
def test_rule_fires(text, reason):
    """Each kind of degenerate output is flagged with its reason."""
    assert reason in assess(text).reasons


def test_fluent_text_is_not_flagged():
    """An ordinary complete answer is coherent."""
    assert not assess(FINE).incoherent


def test_finish_reason_length_is_truncation():
    """A server that stopped for length produced a truncated answer."""
    assert assess(FINE, finish_reason="length").reasons == ("truncated",)


def test_length_cap_alone_is_not_incoherent():
    """``finish_reason: length`` on fluent text is reported as truncated, but is not incoherent."""
    assert not assess(FINE, finish_reason="length").incoherent


def test_text_cut_mid_sentence_alone_is_not_incoherent():
    """A coherent answer that breaks off is reported as truncated, but is not incoherent."""
    judged = assess(FINE[:-1] + " and then after that you should take the")
    assert judged.reasons == ("truncated",)
    assert not judged.incoherent


def test_truncated_loop_is_still_incoherent():
    """A cut does not excuse a loop: other reasons still make the output incoherent."""
    judged = assess("the cat sat on the mat " * 40, finish_reason="length")
    assert judged.incoherent
    assert set(judged.reasons) == {"repetition", "truncated"}


def test_tool_call_without_text_is_not_empty():
    """A response that only calls a tool is not empty."""
    assert not assess("", has_tool_calls=True).incoherent


def test_loop_after_a_long_sane_start_is_repetition():
    """A generation that falls into a loop at its end is caught by its tail, however long its start."""
    start = " ".join(
        f"Point {i} explains a different part of the answer in its own words." for i in range(30)
    )
    judged = assess(start + " " + "and so on and so on " * 20)
    assert "repetition" in judged.reasons
    assert judged.incoherent


def test_content_words_without_short_words_are_salad():
    """Shuffled content words carry none of the short words that English prose is full of."""
    salad = " ".join(["monitor", "answer", "window", "carefully", "request", "banana", "seven"] * 3)
    assert "token_salad" in assess(salad).reasons
