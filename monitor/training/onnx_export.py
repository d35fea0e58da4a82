"""Write a LinearModel as a tiny ONNX graph: gather weights, sum, scale, add bias, squash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from monitor.training.linear import LinearModel

__all__ = ["export"]


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
    onnx_model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="llm-safety-monitor"
    )
    onnx_model.metadata_props.append(
        onnx.StringStringEntryProto(key="classes", value=",".join(model.classes))
    )
    onnx.checker.check_model(onnx_model)
    path.write_bytes(onnx_model.SerializeToString())
