"""Degenerate outputs, flagged rather than trusted: automated judges are unreliable on them.

Rules, each cheap and explainable; ``reasons`` names every rule that fired:

* ``empty``: no text and no tool call;
* ``repetition``: a loop (few distinct word 4-grams, or text that compresses extremely well);
* ``token_salad``: words without the function words every English sentence carries, or mostly
  symbols;
* ``truncated``: the server stopped for length, or the text breaks off mid-sentence;
* ``wrong_language``: mostly non-Latin script, or more function words of another language than of
  English.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

__all__ = ["Degeneracy", "assess"]

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SYMBOL = re.compile(r"[^\w\s]")
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
_TERMINAL = (*".!?\"')]}`*:;>|…。", "```")
_MIN_WORDS = 12


@dataclass(frozen=True, slots=True)
class Degeneracy:
    """Whether a response is degenerate, and which rules say so."""

    incoherent: bool
    reasons: tuple[str, ...]


def assess(text: str, finish_reason: str | None = None, has_tool_calls: bool = False) -> Degeneracy:
    """Apply every rule to one response."""
    stripped = text.strip()
    reasons = []
    if not stripped and not has_tool_calls:
        reasons.append("empty")
    words = _WORD.findall(stripped.lower())
    if _is_loop(stripped, words):
        reasons.append("repetition")
    if _is_salad(stripped, words):
        reasons.append("token_salad")
    if finish_reason == "length" or _breaks_off(stripped, words):
        reasons.append("truncated")
    if _is_foreign(stripped, words):
        reasons.append("wrong_language")
    return Degeneracy(bool(reasons), tuple(reasons))


def _is_loop(text: str, words: list[str]) -> bool:
    if len(words) >= 4 * _MIN_WORDS:
        grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
        if len(set(grams)) / len(grams) < 0.35:  # noqa: PLR2004 - measured on real responses
            return True
    raw = text.encode()
    return len(raw) >= 400 and len(zlib.compress(raw, 1)) / len(raw) < 0.15  # noqa: PLR2004


def _is_salad(text: str, words: list[str]) -> bool:
    if len(words) >= 2 * _MIN_WORDS:
        function_words = sum(w in _ENGLISH or w in _OTHER for w in words)
        if function_words / len(words) < 0.03:  # noqa: PLR2004
            return True
    visible = len(text) - sum(map(len, re.findall(r"\s+", text)))
    return visible >= 40 and len(_SYMBOL.findall(text)) / visible > 0.5  # noqa: PLR2004


def _breaks_off(text: str, words: list[str]) -> bool:
    if len(words) < _MIN_WORDS or text.endswith(_TERMINAL):
        return False
    last_line = text.rsplit("\n", 1)[-1].strip()
    # Lists, headings and code often end without punctuation; a sentence does not.
    if re.match(r"^([-*•#>]|\d+[.)]|\w+:)", last_line) or "```" in text:
        return False
    return len(_WORD.findall(last_line)) >= 3  # noqa: PLR2004


def _is_foreign(text: str, words: list[str]) -> bool:
    if not text.isascii():
        letters = sum(map(len, words))
        if letters >= 30 and len(_NON_ASCII_LETTER.findall(text)) / letters > 0.25:  # noqa: PLR2004
            return True
    if len(words) < _MIN_WORDS:
        return False
    english = sum(w in _ENGLISH for w in words)
    other = sum(w in _OTHER and w not in _ENGLISH for w in words)
    return other > max(2, english)
