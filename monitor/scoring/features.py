"""Hashed n-gram features shared by training and inference, so the two can never disagree.

Features are counted, not deduplicated. A text is hashed once: CRC-32 of each word, and
polynomial rolling hashes of its character 3- to 5-grams, computed with numpy over the UTF-8
bytes. Each model's view then takes namespaced subsets (the same word means different things in a
prompt and in a response's opening) and mixes them into
``DIMS`` buckets. The ONNX models are linear over these buckets: a weight lookup and a sum, which
needs no locale (unlike onnxruntime's StringNormalizer) and costs microseconds.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from monitor.scoring.personas import personas

__all__ = [
    "DIMS",
    "PAD",
    "Hashed",
    "WordHashes",
    "bucket",
    "hash_text",
    "persona_views",
    "prompt_view",
    "prompt_words",
    "response_view",
    "text_view",
    "views",
]

BITS = 18
DIMS = 1 << BITS
PAD = DIMS  # one extra all-zero row in every weight table
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")
_MAX_CHARS = 4000
_CHAR_CHARS = 1000
_HEAD_CHARS = 240
_OPENING_WORDS = 6
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PRIME = np.uint64(1_099_511_628_211)
_SHIFT = np.uint64(64 - BITS)
# Namespaces: a distinct constant per (view, feature kind).
_NS = {
    name: np.uint64((zlib.crc32(name.encode()) * 0x100000001B3) % 2**64)
    for name in (
        "r1",
        "r2",
        "h",
        "o",
        "q1",
        "len",
        "t1",
        "t2",
        "c",
        "p1",
        "p2",
        "pc",
    )
}


@dataclass(frozen=True, slots=True)
class Hashed:
    """A text hashed once: word hashes, word-pair hashes, and character n-gram hashes by n."""

    words: np.ndarray
    pairs: np.ndarray
    chars: tuple[np.ndarray, ...]


class WordHashes:
    """CRC-32 of words, remembered (bounded at ``max_words``).

    A text's words are mostly ones seen before (Zipf), and a dict lookup is ten times cheaper than
    encoding and hashing again. Safe to share between threads: each step is a single dict operation,
    and a clear only costs a few re-hashes.
    """

    def __init__(self, max_words: int = 200_000) -> None:
        self.max_words = max_words
        self._known: dict[str, int] = {}

    def __call__(self, words: list[str]) -> np.ndarray:
        """The words' hashes, as uint64."""
        known = self._known
        values = list(map(known.get, words))
        if None in values:
            if len(known) > self.max_words:
                known.clear()
            for i, value in enumerate(values):
                if value is None:
                    values[i] = known[words[i]] = zlib.crc32(words[i].encode())
        return np.array(values, np.uint64)


def _crc32(words: list[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(w.encode()) for w in words), np.uint64, len(words))


def hash_text(text: str, word_hashes: WordHashes | None = None) -> Hashed:
    """Hash a text's words, adjacent word pairs and character 3-5-grams."""
    lowered = text[:_MAX_CHARS].lower()
    words = (word_hashes or _crc32)(_WORD.findall(lowered))
    pairs = words[:-1] * _PRIME + words[1:] if len(words) > 1 else words[:0]
    data = np.frombuffer(f" {' '.join(lowered[:_CHAR_CHARS].split())} ".encode(), np.uint8).astype(np.uint64)
    # h_n[i] = sum_k data[i + k] * P^(n-1-k), built incrementally: h_(n+1) = h_n * P + next byte.
    # Unsigned array arithmetic wraps modulo 2**64 silently, as a hash should.
    h3 = data[:-2] * _PRIME * _PRIME + data[1:-1] * _PRIME + data[2:] if len(data) >= 3 else data[:0]  # noqa: PLR2004
    h4 = h3[:-1] * _PRIME + data[3:] if len(data) >= 4 else data[:0]  # noqa: PLR2004
    h5 = h4[:-1] * _PRIME + data[4:] if len(data) >= 5 else data[:0]  # noqa: PLR2004
    return Hashed(words, pairs, (h3, h4, h5))


def bucket(values: np.ndarray, namespace: str) -> np.ndarray:
    """Hashes mixed into ``DIMS`` buckets in a view's namespace (``p1``: harm-category prompt words)."""
    return (((values ^ _NS[namespace]) * _GOLDEN) >> _SHIFT).astype(np.int64)


def _head(hashed: Hashed, chars: int) -> np.ndarray:
    return np.concatenate([h[: max(chars - n + 1, 0)] for n, h in zip((3, 4, 5), hashed.chars, strict=True)])


def _ids(parts: list[np.ndarray]) -> np.ndarray:
    # Repeats are kept: the models count features (deduplicating cost more than the whole lookup).
    return np.concatenate(parts)


def response_view(response: Hashed) -> np.ndarray:
    """Refusal features: the response's words, its opening (where refusals sit) and its length.

    The prompt is left out on purpose: with its words in, the model learns "alarming prompt →
    refusal" and reads compliant answers to safe but alarming-sounding requests as refusals. With a
    source held out, CoCoNot's answers scored 0.93 without the prompt against 0.88 with it, and
    JailbreakBench 0.98 against 0.83; the model card keeps the comparison.
    """
    opening = response.words[:_OPENING_WORDS] * _PRIME + np.arange(
        len(response.words[:_OPENING_WORDS]), dtype=np.uint64
    )
    length = np.array([min(len(response.words), 4095).bit_length()], np.uint64)
    head = _head(response, _HEAD_CHARS)
    return _ids(
        [
            bucket(response.words, "r1"),
            bucket(response.pairs, "r2"),
            bucket(head, "h"),
            bucket(opening, "o"),
            bucket(length, "len"),
        ]
    )


def prompt_words(prompt: Hashed) -> np.ndarray:
    """The prompt's words in the refusal model's namespace: training compares the model with them."""
    return bucket(prompt.words, "q1")


def text_view(text: Hashed) -> np.ndarray:
    """Toxicity features: words, word pairs and character n-grams of the text."""
    return _ids([bucket(text.words, "t1"), bucket(text.pairs, "t2"), bucket(np.concatenate(text.chars), "c")])


def prompt_view(prompt: Hashed) -> np.ndarray:
    """Harm-category features of a user prompt."""
    return _ids(
        [
            bucket(prompt.words, "p1"),
            bucket(prompt.pairs, "p2"),
            bucket(np.concatenate(prompt.chars), "pc"),
        ]
    )


def persona_views(
    response: str, word_hashes: WordHashes | None = None, hashed: Hashed | None = None
) -> list[np.ndarray]:
    """Refusal features of each persona turn (:func:`monitor.scoring.personas.personas`).

    ``hashed`` is the whole response already hashed, reused when it is not split.
    """
    turns = personas(response)
    if len(turns) == 1:
        return [response_view(hashed or hash_text(response, word_hashes))]
    return [response_view(hash_text(t, word_hashes)) for t in turns]


def views(
    prompt: str, response: str, word_hashes: WordHashes | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The refusal (one view per persona turn), toxicity and harm-category features of one pair."""
    hashed_prompt, hashed_response = hash_text(prompt, word_hashes), hash_text(response, word_hashes)
    return (
        persona_views(response, word_hashes, hashed_response),
        text_view(hashed_response),
        prompt_view(hashed_prompt),
    )
