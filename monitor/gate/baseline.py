"""The base model's measured rates → the sidecar's ``detection.baseline_file``.

Each of the base model's scored answers is routed by :func:`monitor.signals.route`, the rule the
sidecar's bank uses, so every stream the sidecar watches gets the base rate on the judge's observed
scale: per (category, signal), ``rate = Σ w·x / Σ w`` and ``n = Σ w``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from detectors.baseline import Baseline, BaselineFile
from monitor.events import Scores
from monitor.signals import stream_rates

__all__ = ["build_baseline", "write_baseline"]


def build_baseline(scores: Iterable[Scores], model: str, source: str) -> BaselineFile:
    """Accumulate ``route()`` over the base model's judgements; ``model`` may be ``*``.

    >>> s = Scores(1, 0.9, 0.01, 0, "privacy", 0.7, 0.8, False, (), True, (("privacy", 1.0),))
    >>> b = build_baseline([s, s], "*", "gate").get("any", "privacy", "refusal")
    >>> round(b.rate, 3), b.n
    (0.9, 2.0)
    """
    return BaselineFile(
        {
            (model, category, signal): Baseline(round(rate, 6), round(w, 3), source)
            for (category, signal), (rate, w) in sorted(stream_rates(scores).items())
        }
    )


def write_baseline(baselines: BaselineFile, path: Path) -> None:
    """Write the file the sidecar loads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baselines.to_dict(), indent=2) + "\n", encoding="utf-8")
