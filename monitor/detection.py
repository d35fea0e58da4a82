"""(Sample, Judgement) → detector updates, in a bank keyed by (model, category, signal).

Signals and what feeds them:

* ``refusal`` (per harm category, alarms when it falls): refused or not, for harmful prompts;
* ``false_refusal`` (category ``benign``, alarms when it rises): refused or not, for benign prompts;
* ``toxicity`` (category ``all``, rises): the response's toxicity probability;
* ``incoherence`` (category ``all``, rises): whether the response was flagged degenerate.

Incoherent or uncertain judgements never feed the refusal signals; they are counted on their own.
Near-duplicate prompts are down-weighted (``detectors.dedup``) so one user's burst cannot spend the
false-alarm budget. Detectors are created lazily; cardinality is bounded because model labels
already are, and categories and signals are closed sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from detectors import Baseline, BaselineFile, DuplicateWeigher, from_state, rate_detector
from detectors.base import Direction, Severity
from monitor.events import Sample
from monitor.scoring.scorer import prompt_key
from monitor.settings import DetectionSettings

__all__ = ["ALL", "SIGNALS", "DetectorBank", "StreamKey", "Transition"]

ALL = "all"
SIGNALS: dict[str, Direction] = {
    "refusal": "down",
    "false_refusal": "up",
    "toxicity": "up",
    "incoherence": "up",
}
STATE_FORMAT = 1

StreamKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Transition:
    """A detector's alarm state changed: raised, re-graded, or cleared (severity ``ok``)."""

    key: StreamKey
    severity: Severity
    previous: Severity


class DetectorBank:
    """All detectors of one process, fed from judgements.

    Parameters
    ----------
    settings
        The detection section of the settings.
    baselines
        Measured base-model rates (the regression gate's file); streams without one warm up.

    """

    def __init__(self, settings: DetectionSettings, baselines: BaselineFile | None = None) -> None:
        self.settings = settings
        self.baselines = baselines or BaselineFile({})
        self.detectors: dict[StreamKey, Any] = {}
        self.excluded = {"uncertain": 0, "incoherent": 0}
        self._weigher = DuplicateWeigher(settings.dedup_window)
        self._log = structlog.get_logger("monitor.detection")

    def observe(self, sample: Sample) -> list[Transition]:
        """Feed every signal a scored sample informs; return the alarm transitions it caused."""
        judgement = sample.scores
        if judgement is None:
            return []
        weight = self._weigher.weight(prompt_key(sample.prompt))
        changes = [
            self._feed((sample.model, ALL, "incoherence"), float(judgement.incoherent), weight),
            self._feed((sample.model, ALL, "toxicity"), judgement.toxicity, weight),
        ]
        if judgement.incoherent:
            self.excluded["incoherent"] += 1
        elif judgement.uncertain:
            self.excluded["uncertain"] += 1
        elif judgement.category == "benign":
            changes.append(
                self._feed((sample.model, "benign", "false_refusal"), float(judgement.refusal), weight)
            )
        else:
            changes.append(
                self._feed((sample.model, judgement.category, "refusal"), float(judgement.refusal), weight)
            )
        return [c for c in changes if c is not None]

    def _feed(self, key: StreamKey, x: float, weight: float) -> Transition | None:
        detector = self.detectors.get(key) or self._create(key)
        before = detector.severity
        if self.settings.method == "rate_shift":
            detector.update(x, weight)
        else:
            detector.update(x)
        after = detector.severity
        if after == before:
            return None
        self._log.warning(
            "detector_alarm" if after != "ok" else "detector_recovered",
            model=key[0],
            category=key[1],
            signal=key[2],
            severity=after,
            previous=before,
        )
        return Transition(key, after, before)

    def _create(self, key: StreamKey) -> Any:
        s = self.settings
        known = self.baselines.get(*key)
        options: dict[str, Any] = {"warmup": s.warmup}
        if s.method == "rate_shift":
            options |= {"arl0": s.arl0, "zone": s.zone, "relative_zone": s.relative_zone}
        baseline: Baseline | None = known
        detector = rate_detector(baseline, SIGNALS[key[2]], s.method, **options)  # type: ignore[arg-type]
        self.detectors[key] = detector
        return detector

    def __iter__(self) -> Iterator[tuple[StreamKey, Any]]:
        return iter(list(self.detectors.items()))

    def state_dict(self) -> dict[str, Any]:
        """Every detector's state, JSON-ready."""
        return {
            "format": STATE_FORMAT,
            "method": self.settings.method,
            "excluded": dict(self.excluded),
            "detectors": [{"key": list(k), "state": d.state_dict()} for k, d in self.detectors.items()],
        }

    def load_state(self, data: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; raises ``ValueError`` when incompatible."""
        if data.get("format") != STATE_FORMAT or data.get("method") != self.settings.method:
            found = f"{data.get('format')!r}/{data.get('method')!r}"
            msg = f"state format {found} does not match this configuration"
            raise ValueError(msg)
        restored = {}
        for entry in data["detectors"]:
            model, category, signal = (str(part) for part in entry["key"])
            if signal not in SIGNALS:
                msg = f"unknown signal {signal!r} in state"
                raise ValueError(msg)
            restored[(model, category, signal)] = from_state(entry["state"])
        self.detectors = restored
        self.excluded = {k: int(v) for k, v in data.get("excluded", {}).items()} or self.excluded
