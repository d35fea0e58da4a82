"""The sentence encoder: MiniLM-L6 (int8 ONNX), whose embedding the encoder heads read.

Hashed n-grams learn each training source's wording; a sentence embedding carries what a text is
about, which is what transfers to prompts and posts from sources never trained on (the model card's
leave-one-source-out tables). The encoder is all-MiniLM-L6-v2 (Apache-2.0), exported and quantised
by ``python -m monitor.training.encoder``; it runs in onnxruntime with the ``tokenizers`` package,
with no network and no torch.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from monitor.scoring.session import OnnxSession

__all__ = ["ENCODER", "TOKENIZER", "SentenceEncoder"]

ENCODER = "encoder.onnx"
TOKENIZER = "encoder_tokenizer.json"
_TOKENS = 128  # MiniLM was trained on 128-token texts; a prompt's topic is in its first 128
_BATCH = 32


class SentenceEncoder:
    """Mean-pooled, L2-normalised embeddings ``(n, 384)``; thread-safe (onnxruntime sessions are).

    Texts are batched by length, so a batch pads little. The last ``cache_size`` embeddings are kept
    by a digest of their text: the encoder costs a hundred times the n-gram models, and the same
    prompt often comes back (canary probes, the gate's suite for base and candidate, retries).
    """

    def __init__(self, model_dir: Path, threads: int = 1, cache_size: int = 4096) -> None:
        self._model = OnnxSession(model_dir / ENCODER, threads)
        self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(_TOKENS)
        self.dims = int(self._model.width)
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str], cache: bool = True) -> np.ndarray:
        """One row per text; ``cache=False`` for texts that rarely come back (responses)."""
        if not cache:
            return self._encode(texts)
        keys = [hashlib.blake2b(t.encode("utf-8", "replace"), digest_size=16).digest() for t in texts]
        out = np.zeros((len(texts), self.dims), np.float32)
        with self._lock:
            known = {i: self._cache[k] for i, k in enumerate(keys) if k in self._cache}
            for i in known:
                self._cache.move_to_end(keys[i])
        missing = [i for i in range(len(texts)) if i not in known]
        for i, row in known.items():
            out[i] = row
        if missing:
            out[missing] = self._encode([texts[i] for i in missing])
            with self._lock:
                for i in missing:
                    self._cache[keys[i]] = out[i].copy()  # a row of the caller's array is a view
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        # One at a time: encode_batch spreads over every core (Rust threads), and scoring keeps to one.
        encoded = [self._tokenizer.encode(t) for t in texts]
        order = np.argsort([len(e.ids) for e in encoded], kind="stable")
        out = np.zeros((len(texts), self.dims), np.float32)
        for start in range(0, len(order), _BATCH):
            rows = order[start : start + _BATCH]
            width = max(len(encoded[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i].ids)] = encoded[i].ids
                mask[r, : len(encoded[i].ids)] = 1
            out[rows] = self._model.outputs({"input_ids": ids, "attention_mask": mask})
        return out
