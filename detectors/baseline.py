"""Baseline rates and their provenance, per (model, category, signal)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from detectors.base import Direction

__all__ = ["Baseline", "BaselineFile", "guarded_null"]

BASELINE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Baseline:
    """A measured rate: ``successes`` of ``n``, and where it came from.

    ``n`` of 0 means "known exactly" (given, not measured).
    """

    rate: float
    n: float = 0.0
    source: str = "given"

    @classmethod
    def measured(cls, successes: float, n: float, source: str) -> Baseline:
        """A baseline estimated from ``n`` observations."""
        return cls(successes / n if n else 0.0, n, source)


def guarded_null(baseline: Baseline, direction: Direction, zone: float, guard: float) -> float:
    """The rate the detector tests against: the baseline moved toward the bad side.

    It moves by the indifference zone and, for an estimated baseline, by its one-sided ``guard``
    confidence bound.

    Moving the null by the estimation error keeps the false-alarm budget when the baseline itself
    is off by sampling noise (a self-starting correction in the spirit of Hawkins 1987).

    >>> round(guarded_null(Baseline(0.95, 5000, "warmup"), "down", 0.0, 0.95), 4)
    0.9449
    """
    margin = zone
    if baseline.n > 0:
        z = NormalDist().inv_cdf(guard)
        p = min(max(baseline.rate, 0.5 / baseline.n), 1 - 0.5 / baseline.n)
        margin += z * math.sqrt(p * (1 - p) / baseline.n)
    null = baseline.rate - margin if direction == "down" else baseline.rate + margin
    return min(max(null, 1e-6), 1 - 1e-6)


class BaselineFile:
    """Baselines keyed by (model, category, signal), as the regression gate writes them.

    The JSON holds ``{"format": 1, "baselines": [{"model", "category", "signal", "rate", "n",
    "source"}, ...]}``.
    """

    def __init__(self, baselines: Mapping[tuple[str, str, str], Baseline]) -> None:
        self.baselines = dict(baselines)

    def get(self, model: str, category: str, signal: str) -> Baseline | None:
        """The baseline for this stream, falling back to the model ``*`` entry."""
        return self.baselines.get((model, category, signal)) or self.baselines.get(("*", category, signal))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineFile:
        """Parse; raises ``ValueError`` naming the bad entry."""
        if data.get("format") != BASELINE_FORMAT:
            msg = f"baseline format {data.get('format')!r} is not {BASELINE_FORMAT}"
            raise ValueError(msg)
        out = {}
        for i, row in enumerate(data.get("baselines", [])):
            try:
                key = (str(row["model"]), str(row["category"]), str(row["signal"]))
                out[key] = Baseline(
                    float(row["rate"]), float(row.get("n", 0)), str(row.get("source", "file"))
                )
            except (KeyError, TypeError, ValueError) as exc:
                msg = f"baselines[{i}] is invalid: {exc}"
                raise ValueError(msg) from exc
            if not 0 <= out[key].rate <= 1:
                msg = f"baselines[{i}].rate={out[key].rate} is outside [0, 1]"
                raise ValueError(msg)
        return cls(out)

    @classmethod
    def load(cls, path: Path) -> BaselineFile:
        """Read a baseline file."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        rows = [
            {"model": m, "category": c, "signal": s, **asdict(b)} for (m, c, s), b in self.baselines.items()
        ]
        return {"format": BASELINE_FORMAT, "baselines": rows}
