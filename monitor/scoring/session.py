"""The onnxruntime boundary: load a linear model, run padded batches, map its errors to ours."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort

from monitor.errors import ClassifierError
from monitor.scoring.features import PAD

__all__ = ["HeadSession", "LinearSession", "OnnxSession", "map_onnx_errors"]


# onnxruntime's own exceptions derive from Exception alone: a corrupt file raises InvalidProtobuf,
# a missing one NoSuchFile, a malformed input InvalidArgument.
_STATE = ort.capi.onnxruntime_pybind11_state
_ORT_ERRORS = (
    _STATE.Fail,
    _STATE.InvalidProtobuf,
    _STATE.NoSuchFile,
    _STATE.InvalidArgument,
    _STATE.InvalidGraph,
    _STATE.RuntimeException,
)


@contextmanager
def map_onnx_errors(name: str) -> Iterator[None]:
    """Translate onnxruntime failures into :class:`ClassifierError`."""
    try:
        yield
    except (*_ORT_ERRORS, RuntimeError, ValueError, OSError) as exc:
        msg = f"classifier {name} failed: {exc}"
        raise ClassifierError(msg) from exc


class OnnxSession:
    """One ONNX model and its metadata; thread-safe (onnxruntime sessions are).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    threads
        Intra-op threads; 1 keeps scoring off the cores that serve traffic.

    """

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = path
        self.name = path.stem
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        with map_onnx_errors(self.name):
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.metadata: dict[str, str] = self._session.get_modelmeta().custom_metadata_map
        self.classes = tuple(self.metadata.get("classes", "").split(","))
        self.width = self._session.get_outputs()[0].shape[-1]

    def outputs(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """The first output for ``feed``, onnxruntime's failures mapped to :class:`ClassifierError`."""
        with map_onnx_errors(self.name):
            first: np.ndarray = self._session.run(None, feed)[0]
            return first


class LinearSession(OnnxSession):
    """A linear model over hashed features (``monitor.training.onnx_export.export``)."""

    def run(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities ``[batch, classes]`` for rows of feature ids."""
        width = max((len(r) for r in rows), default=1) or 1
        ids = np.full((len(rows), width), PAD, np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        scale = (1 / np.sqrt(np.maximum([len(r) for r in rows], 1))).astype(np.float32)[:, None]
        return self.outputs({"ids": ids, "scale": scale})


class HeadSession(OnnxSession):
    """An encoder head: a linear layer over sentence embeddings, with its blend weights.

    ``blend`` is (linear, encoder): the exponents of the linear model's and this head's
    probabilities in the product of experts the scorer takes. ``cascade``: a binary head is asked
    only where the linear model's probability is at least this.
    """

    def __init__(self, path: Path, threads: int = 1) -> None:
        super().__init__(path, threads)
        linear, encoder = self.metadata.get("blend", "0,1").split(",")
        self.blend = (float(linear), float(encoder))
        self.cascade = float(self.metadata.get("cascade", "0"))

    def run_embedding(self, embedding: np.ndarray) -> np.ndarray:
        """Probabilities ``[batch, classes]`` for rows of embeddings."""
        return self.outputs({"embedding": embedding})
