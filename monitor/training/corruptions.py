"""Degenerate outputs generated from real responses by our own rules, to measure the degeneracy flags."""

from __future__ import annotations

import random
import re

__all__ = ["CORRUPTIONS", "corrupt"]

# Written for this purpose: function words of other languages, to compose "wrong language" text.
_FOREIGN = (
    "der die das und ist nicht ein eine ich sie wir mit auf für den dem von zu es "
    "el la los las y que en es un una por con para se del al lo como pero más "
    "le les et est une dans pour qui pas sur au avec sont ce il elle nous vous"
).split()
_CYRILLIC = str.maketrans("aeopcxyABEHKMOPCTX", "аеорсхуАВЕНКМОРСТХ")


def _repeat(text: str, rng: random.Random) -> str:
    words = text.split()
    start = rng.randrange(max(1, len(words) - 8))
    loop = " ".join(words[start : start + rng.randint(3, 8)])
    return " ".join(words[:start]) + " " + " ".join([loop] * rng.randint(15, 40))


def _salad(text: str, rng: random.Random) -> str:
    vocabulary = sorted(set(re.findall(r"[A-Za-z]{4,}", text))) or ["token"]
    return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(20, 80)))


def _truncate(text: str, rng: random.Random) -> str:
    words = text.split()
    cut = rng.randint(len(words) // 3, max(len(words) // 3 + 1, len(words) - 2))
    while cut > 1 and re.search(r"[.!?:;)\]\"']$", words[cut - 1]):
        cut -= 1
    return " ".join(words[:cut])


def _empty(_: str, rng: random.Random) -> str:
    return rng.choice(["", " ", "\n\n", "  \n"])


def _foreign(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:  # noqa: PLR2004
        return text.translate(_CYRILLIC)
    words = text.split()
    return " ".join(rng.choice(_FOREIGN) if rng.random() < 0.5 else w for w in words)  # noqa: PLR2004


CORRUPTIONS = {
    "repetition": _repeat,
    "token_salad": _salad,
    "truncated": _truncate,
    "empty": _empty,
    "wrong_language": _foreign,
}


def corrupt(kind: str, text: str, rng: random.Random) -> str:
    """One degenerate version of ``text``."""
    return CORRUPTIONS[kind](text, rng)
