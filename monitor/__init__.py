"""llm-safety-monitor: a sidecar that watches a deployed LLM for safety regressions."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
