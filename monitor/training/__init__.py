"""Training: rebuild the committed ONNX classifiers from ../shared/data, with a model card."""

from __future__ import annotations

__all__: list[str] = []
