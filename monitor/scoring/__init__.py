"""Scoring stage: Sample → Scores, with ONNX classifiers and degeneracy rules."""

from __future__ import annotations

__all__: list[str] = []
