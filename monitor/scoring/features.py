"""Hashed n-gram features shared by training and inference, so the two can never disagree.

Each view turns text into a set of feature strings (namespaced, so the same n-gram means different
things in a prompt and in a response's opening), hashed with CRC-32 into ``DIMS`` buckets. The ONNX
models are linear over these buckets: a weight lookup and a sum, which onnxruntime does in
microseconds and which needs no locale (unlike onnxruntime's StringNormalizer).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np

__all__ = ["DIMS", "PAD", "prompt_view", "response_view", "text_view", "to_ids"]

DIMS = 1 << 18
PAD = DIMS  # one extra all-zero row in every weight table
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")
_HEAD_CHARS = 240
_MAX_CHARS = 4000


def _words(text: str) -> list[str]:
    return _WORD.findall(text[:_MAX_CHARS].lower())


def _grams(prefix: str, words: list[str], n: int) -> Iterable[str]:
    return (prefix + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def _chars(prefix: str, text: str, low: int = 3, high: int = 5) -> Iterable[str]:
    padded = f" {' '.join(text.lower().split())} "
    return (prefix + padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1))


def response_view(prompt: str, response: str) -> set[str]:
    """Refusal features: the response's words, its opening (where refusals sit), and the prompt."""
    words = _words(response)
    head = response[:_HEAD_CHARS]
    features = {*_grams("r1:", words, 1), *_grams("r2:", words, 2), *_chars("h:", head)}
    features.update(f"o{i}:{w}" for i, w in enumerate(words[:6]))
    features.update(_grams("q1:", _words(prompt), 1))
    features.add(f"len:{min(len(words).bit_length(), 12)}")
    return features


def text_view(text: str) -> set[str]:
    """Toxicity features: words, word pairs and character n-grams of the text."""
    words = _words(text)
    return {*_grams("t1:", words, 1), *_grams("t2:", words, 2), *_chars("c:", text[:1000])}


def prompt_view(prompt: str) -> set[str]:
    """Harm-category features of a user prompt."""
    words = _words(prompt)
    return {*_grams("p1:", words, 1), *_grams("p2:", words, 2), *_chars("c:", prompt[:1000])}


def to_ids(features: set[str]) -> np.ndarray:
    """Bucket ids of a feature set (sorted, unique)."""
    return np.unique(np.fromiter((zlib.crc32(f.encode()) % DIMS for f in features), np.int64, len(features)))
