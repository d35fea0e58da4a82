"""Degenerate outputs, flagged rather than trusted: automated judges are unreliable on them.

Rules, each cheap and explainable; ``reasons`` names every rule that fired:

* ``empty``: no text and no tool call;
* ``repetition``: a loop (few distinct word 4-grams, or text that compresses extremely well);
* ``token_salad``: words without the function words every English sentence carries, or mostly
  symbols;
* ``truncated``: the server stopped for length, or the text breaks off mid-sentence. Reported, but
  not ``incoherent`` by itself: a length-capped answer (``finish_reason: length``) is ordinary
  traffic, and its refusal judgement is as reliable as any other's;
* ``wrong_language``: mostly non-Latin script, or more function words of another language than of
  English.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

__all__ = ["TRUNCATED", "Degeneracy", "assess"]

TRUNCATED = "truncated"

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z]+")  # the same words for ASCII text, at half the cost
_SYMBOL = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")
_THREE_WORDS = re.compile(r"[^\W\d_]+(?:[\W\d_]+[^\W\d_]+){2}")  # stops at the first three
_LIST_ITEM = re.compile(r"([-*•#>]|\d+[.)]|\w+:)")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")
_ENGLISH = frozenset(
    "the a an and or of to in is are was be it that this for on with as you i we not can have do "
    "your my at by from but if will would there their they he she his her what which how all so".split()
)
_OTHER = frozenset(
    "der die das und ist nicht ein eine ich sie wir mit auf für den dem von zu es "
    "el la los las y que en es un una por con para se del al lo como pero más "
    "le les et est une dans pour qui pas sur au avec sont ce il elle nous vous".split()
)
_ONLY_OTHER = _OTHER - _ENGLISH
_TERMINAL = (*".!?\"')]}`*:;>|…。", "```")
_MIN_WORDS = 12
_TAIL_WORDS = 4 * _MIN_WORDS


@dataclass(frozen=True, slots=True)
class Degeneracy:
    """Whether a response is degenerate, and which rules say so (``truncated`` alone is not)."""

    incoherent: bool
    reasons: tuple[str, ...]


def assess(text: str, finish_reason: str | None = None, has_tool_calls: bool = False) -> Degeneracy:
    """Apply every rule to one response."""
    stripped = text.strip()
    reasons = []
    if not stripped and not has_tool_calls:
        reasons.append("empty")
    lowered = stripped.lower()
    words = (_ASCII_WORD if lowered.isascii() else _WORD).findall(lowered)
    english = sum(map(_ENGLISH.__contains__, words))
    other = sum(map(_ONLY_OTHER.__contains__, words))
    letters = sum(map(len, words))
    if _is_loop(stripped, words):
        reasons.append("repetition")
    short = sum(len(w) <= 3 for w in words)  # noqa: PLR2004 - see _is_salad
    if _is_salad(stripped, len(words), english + other, letters, short):
        reasons.append("token_salad")
    if finish_reason == "length" or _breaks_off(stripped, words):
        reasons.append(TRUNCATED)
    if _is_foreign(stripped, len(words), english, other, letters):
        reasons.append("wrong_language")
    return Degeneracy(any(r != TRUNCATED for r in reasons), tuple(reasons))


def _is_loop(text: str, words: list[str]) -> bool:
    if len(words) >= 4 * _MIN_WORDS:
        # A generation that falls into a loop usually does so at its end, after sane text: the
        # tail is judged on its own, so a long healthy start cannot dilute it.
        return _looping(words) or _looping(words[-_TAIL_WORDS:])
    raw = text.encode()
    return len(raw) >= 400 and len(zlib.compress(raw, 1)) / len(raw) < 0.15  # noqa: PLR2004


def _looping(words: list[str]) -> bool:
    # Distinct word 4-grams (zip stops at the shortest tail). Word-diverse text is not a loop;
    # compression in _is_loop only catches loops of non-words.
    grams = set(zip(words, words[1:], words[2:], words[3:], strict=False))
    return len(grams) / (len(words) - 3) < 0.35  # noqa: PLR2004 - measured on real responses


def _is_salad(text: str, words: int, function_words: int, letters: int, short: int) -> bool:
    if words >= 2 * _MIN_WORDS and function_words / words < 0.03:  # noqa: PLR2004
        return True
    # English prose is about 40 % words of one to three letters (the, of, to, is ...); shuffled
    # content words carry almost none of them.
    if words >= _MIN_WORDS + 6 and short / words < 0.05:  # noqa: PLR2004 - measured on real responses
        return True
    if 2 * letters >= len(text):  # at least half letters: it cannot be mostly symbols
        return False
    visible = len(text) - sum(map(len, _SPACE.findall(text)))
    return visible >= 40 and len(_SYMBOL.findall(text)) / visible > 0.5  # noqa: PLR2004


def _breaks_off(text: str, words: list[str]) -> bool:
    if len(words) < _MIN_WORDS or text.endswith(_TERMINAL):
        return False
    last_line = text.rsplit("\n", 1)[-1].strip()
    # Lists, headings and code often end without punctuation; a sentence does not.
    if _LIST_ITEM.match(last_line) or "```" in text:
        return False
    return _THREE_WORDS.search(last_line) is not None


def _is_foreign(text: str, words: int, english: int, other: int, letters: int) -> bool:
    if not text.isascii() and letters >= 30 and len(_NON_ASCII_LETTER.findall(text)) / letters > 0.25:  # noqa: PLR2004
        return True
    return words >= _MIN_WORDS and other > max(2, english)
