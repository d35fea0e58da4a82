"""Write a LinearModel as a tiny ONNX graph: gather weights (or multiply an embedding), add bias, squash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from monitor.training.linear import LinearModel

__all__ = ["export", "export_head"]


def export(model: LinearModel, path: Path, name: str) -> None:
    """Inputs ``ids`` int64 [batch, length] (padded with the zero row) and ``scale`` float [batch, 1]."""
    classes = model.weights.shape[1]
    nodes = [
        helper.make_node("Gather", ["weights", "ids"], ["gathered"], axis=0),
        helper.make_node("ReduceSum", ["gathered", "axis1"], ["summed"], keepdims=0),
        helper.make_node("Mul", ["summed", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "bias"], ["logits"]),
        helper.make_node("Sigmoid" if classes == 1 else "Softmax", ["logits"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch", 1]),
        ],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        initializer=[
            numpy_helper.from_array(model.weights.astype(np.float32), "weights"),
            numpy_helper.from_array(model.bias.astype(np.float32), "bias"),
            numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        ],
    )
    _write(graph, path, {"classes": ",".join(model.classes)})


def export_head(
    model: LinearModel, path: Path, name: str, blend: tuple[float, float], cascade: float = 0.0
) -> None:
    """An encoder head: input ``embedding`` float [batch, dims], output ``probabilities``.

    ``blend`` (linear, encoder) are the exponents of the two models' probabilities in the scorer's
    product of experts, and ``cascade`` the linear probability below which a binary head is not
    asked; they travel in the metadata so the pair is rebuilt together.
    """
    dims, classes = model.weights.shape[0] - 1, model.weights.shape[1]
    nodes = [
        helper.make_node("MatMul", ["embedding", "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["logits"]),
        helper.make_node("Sigmoid" if classes == 1 else "Softmax", ["logits"], ["probabilities"]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dims])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        initializer=[
            numpy_helper.from_array(model.weights[:dims].astype(np.float32), "weights"),
            numpy_helper.from_array(model.bias.astype(np.float32), "bias"),
        ],
    )
    metadata = {"classes": ",".join(model.classes), "blend": f"{blend[0]:.6f},{blend[1]:.6f}"}
    _write(graph, path, metadata | {"cascade": f"{cascade:.6f}"})


def _write(graph: onnx.GraphProto, path: Path, metadata: dict[str, str]) -> None:
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="llm-safety-monitor"
    )
    for key, value in metadata.items():
        onnx_model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(onnx_model)
    path.write_bytes(onnx_model.SerializeToString())
